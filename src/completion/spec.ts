import type { ArgDef, CommandDef } from 'citty'
import { extrasOf } from '../commands/_extras.ts'
import { root, subCommandsOf } from '../commands/_tree.ts'
import { STORAGE_OPTION } from '../commands/_usage.ts'

/** What a value is completed from: fixed words, the store's accounts, directories, command names. */
export type ValueSource = readonly string[] | 'account' | 'directory' | 'subcommand'

export interface FlagSpec {
  /** `--account`, then aliases (`-a`); `--no-…` forms are flags of their own. */
  names: string[]
  description: string
  /** Undefined for a flag that takes no value. */
  value?: ValueSource
}

export interface CommandSpec {
  /** `store copy` → ['store', 'copy']; [] is qwenauth itself. */
  path: string[]
  description: string
  subcommands: Array<{ name: string; description: string }>
  flags: FlagSpec[]
  /** What its positional words are, if it takes any. */
  positional?: ValueSource
  /** Everything after `--` is a program and its arguments (exec). */
  passThrough: boolean
}

/**
 * Every command with its flags and what their values are, read from the same definitions
 * citty parses and `--help` shows, so the scripts cannot fall behind the commands.
 */
export async function completionSpec(): Promise<CommandSpec[]> {
  const out: CommandSpec[] = []
  const visit = async (command: CommandDef, path: string[]): Promise<void> => {
    const extras = extrasOf(command)
    const meta = await (typeof command.meta === 'function' ? command.meta() : command.meta)
    const subs = command.subCommands ? await subCommandsOf(command) : {}
    const subcommands: CommandSpec['subcommands'] = []
    for (const [name, sub] of Object.entries(subs)) {
      const subMeta = await (typeof sub.meta === 'function' ? sub.meta() : sub.meta)
      subcommands.push({ name, description: subMeta?.description ?? '' })
    }
    const args = { ...((await (typeof command.args === 'function' ? command.args() : command.args)) ?? {}) }
    // Global: taken out of the arguments anywhere before `--`, before the command name too.
    if (!extras.ignoresStorage) Object.assign(args, STORAGE_OPTION)
    const flags: FlagSpec[] = [{ names: ['--help', '-h'], description: 'Show the help' }]
    let positional: ValueSource | undefined
    for (const [name, def] of Object.entries(args) as Array<[string, ArgDef]>) {
      const value = extras.values?.[name]
      if (def.type === 'positional') {
        positional = name === 'command' && extras.variadic ? 'subcommand' : value
        continue
      }
      const aliases = 'alias' in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : []
      const names = [`--${name}`, ...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))]
      const description = def.description ?? ''
      if (def.type === 'boolean') {
        flags.push({ names, description })
        if (def.default === true || def.negativeDescription) flags.push({ names: [`--no-${name}`], description: def.negativeDescription ?? `Not ${name}` })
      } else {
        flags.push({ names, description, value: value ?? (name === 'storage' ? 'directory' : []) })
      }
    }
    if (path.length === 0) flags.push({ names: ['--version', '-v'], description: 'Show the version' })
    out.push({ path, description: meta?.description ?? '', subcommands, flags, ...(positional ? { positional } : {}), passThrough: Boolean(extras.passThrough) })
    for (const [name, sub] of Object.entries(subs)) await visit(sub, [...path, name])
  }
  await visit(root, [])
  return out
}
