import type { ArgDef } from 'citty'
import { closest } from '../lib/did-you-mean.ts'
import { usageError } from '../lib/errors.ts'
import { extrasOf } from './_extras.ts'
import { commandLine, type ResolvedCommand } from './_tree.ts'

type NamedArg = ArgDef & { name: string }

/** Every spelling citty accepts for a flag: its name, camelCase and kebab-case, its aliases. */
function spellings(arg: NamedArg): string[] {
  const kebab = arg.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
  const camel = arg.name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase())
  const aliases = 'alias' in arg && arg.alias ? (Array.isArray(arg.alias) ? arg.alias : [arg.alias]) : []
  return [...new Set([arg.name, kebab, camel, ...aliases])]
}

/**
 * citty ignores what it does not know (`env --shel fish` printed bash, `status --josn` the
 * table), so every command's arguments are checked here, once, against its own definition:
 * unknown flags (with the nearest known one), flags without their value, words the command does
 * not take, and what it requires. Everything after `--` is left alone where it belongs to
 * another program (exec).
 */
export async function checkArguments({ path, command, args: argv }: ResolvedCommand): Promise<void> {
  const extras = extrasOf(command)
  const see = `(see \`${commandLine(path)} --help\`)`
  extras.checkFirst?.(argv)
  const defs = Object.entries((await (typeof command.args === 'function' ? command.args() : command.args)) ?? {}).map(([name, def]) => ({ ...def, name }) as NamedArg)
  const flags = new Map<string, NamedArg>()
  for (const def of defs) if (def.type !== 'positional') for (const name of spellings(def)) flags.set(name, def)
  const positionals = defs.filter((d) => d.type === 'positional')
  const dashDash = argv.indexOf('--')
  const own = dashDash === -1 ? argv : argv.slice(0, dashDash)
  const words: string[] = []
  const given = new Set<string>()

  for (let i = 0; i < own.length; i++) {
    const token = own[i] ?? ''
    if (!token.startsWith('-') || token === '-') {
      words.push(token)
      continue
    }
    const eq = token.indexOf('=')
    const name = (eq === -1 ? token : token.slice(0, eq)).replace(/^--?/, '')
    const value = eq === -1 ? undefined : token.slice(eq + 1)
    const def = flags.get(name) ?? negated(flags, name, token.startsWith('--'))
    if (!def) throw usageError(`${unknownFlag(token, name, defs, path)} ${see}`)
    given.add(def.name)
    if (def.type === 'boolean') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw usageError(`${token.slice(0, eq)} takes no value ${see}`)
      continue
    }
    if (value !== undefined) continue
    const next = own[i + 1]
    if (next === undefined || (next.startsWith('-') && next !== '-')) throw usageError(`${token} needs a value ${see}`)
    i++
  }
  if (!extras.passThrough && dashDash !== -1) words.push(...argv.slice(dashDash + 1))

  const room = extras.variadic ? Infinity : extras.passThrough ? 0 : positionals.length
  const extra = words[room]
  if (extra !== undefined) throw usageError(extras.unexpectedWord?.(extra) ?? `${unexpectedWord(extra, path, flags)} ${see}`)
  const missing = positionals.find((p, index) => p.required !== false && p.default === undefined && words[index] === undefined)
  if (missing) throw usageError(`missing ${missing.name}: ${commandLine(path)} <${missing.name}> ${see}`)
  const required = defs.find((d) => d.type !== 'positional' && d.required === true && !given.has(d.name))
  if (required) throw usageError(`missing --${required.name} ${see}`)
}

/** `--no-verify` for a boolean `verify`. */
function negated(flags: Map<string, NamedArg>, name: string, long: boolean): NamedArg | undefined {
  const base = long && name.startsWith('no-') ? flags.get(name.slice(3)) : undefined
  return base?.type === 'boolean' ? base : undefined
}

function unknownFlag(token: string, name: string, defs: NamedArg[], path: string[]): string {
  const shown = token.split('=')[0]
  // `use --account x`: the account is that command's argument.
  const asWord = defs.find((d) => d.type === 'positional' && d.name === name)
  if (asWord) return `${commandLine(path)} takes the ${asWord.name} as an argument, not as ${shown}: ${commandLine(path)} <${asWord.name}>`
  const longNames = defs.filter((d) => d.type !== 'positional').flatMap((d) => [d.name, ...(d.type === 'boolean' ? [`no-${d.name}`] : [])])
  const guess = closest(name, longNames)
  return `unknown option ${shown}${guess ? `: did you mean --${guess}?` : ''}`
}

/** `token acct3@example.com`: say how to name the account, never pick one from a stray word. */
function unexpectedWord(word: string, path: string[], flags: Map<string, NamedArg>): string {
  if (flags.get('account')?.name === 'account') return `unexpected argument "${word}": to name an account, use ${commandLine(path)} --account ${word}`
  return `unexpected argument "${word}"`
}
