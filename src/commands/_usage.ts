import { renderUsage, type ArgsDef, type CommandDef } from 'citty'
import { stripAnsi, useColor } from '../lib/color.ts'
import { VERSION } from '../lib/version.ts'
import { ENVIRONMENT, OUTPUT_ENV, STORE_ENV } from './_environment.ts'
import { extrasOf } from './_extras.ts'
import type { ResolvedCommand } from './_tree.ts'

/** Shown in every command's help; taken out of the arguments before the command sees them. */
export const STORAGE_OPTION = {
  storage: { type: 'string', description: 'The store: a directory or a redis:// or rediss:// URL (as QWENAUTH_STORAGE)', valueHint: 'dir|url' },
} as const satisfies ArgsDef

/** As citty styles its own headings (stripped again when there is no colour terminal). */
const heading = (title: string) => `\x1b[4m\x1b[1m${title}\x1b[22m\x1b[24m`

const HELP_OPTION = { help: { type: 'boolean', alias: 'h', description: 'Show this help' } } as const satisfies ArgsDef
const VERSION_OPTION = { version: { type: 'boolean', alias: 'v', description: 'Print the version' } } as const satisfies ArgsDef

const ROOT_NOTES = [
  'Every command also takes --storage <dir|url> (the store; as QWENAUTH_STORAGE) and --help; `qwenauth help <command>` is',
  'the same as `qwenauth <command> --help`. Accounts are named by id, a unique id prefix, or label (in any case).',
  'Exit codes: 0 ok, 1 failure, 2 usage error, 3 an account needs a new login, 4 network, 5-8 login refused or expired,',
  '9 lock timeout, 127 program not found (exec), 130 cancelled. With --json, a failure is also a JSON object on stdout.',
].join('\n')

/**
 * A command's help: citty's usage (with the options every command takes added), the environment
 * variables it reads, and its longer notes. Plain text unless stdout is a colour terminal.
 */
export async function renderHelp({ path, command }: ResolvedCommand, out: { isTTY?: boolean } = process.stdout): Promise<string> {
  const extras = extrasOf(command)
  const args = (await (typeof command.args === 'function' ? command.args() : command.args)) ?? {}
  const leaf = !command.subCommands
  const shown: CommandDef = {
    ...command,
    args: { ...args, ...(leaf && !extras.ignoresStorage ? STORAGE_OPTION : {}), ...HELP_OPTION, ...(path.length === 0 ? VERSION_OPTION : {}) },
  }
  const parent = path.length > 0 ? { meta: { name: ['qwenauth', ...path.slice(0, -1)].join(' '), version: VERSION } } : undefined
  let text = await renderUsage(shown, parent)
  if (extras.usage) text = text.replace(/^.*USAGE.*$/m, `${heading('USAGE')} \x1b[36m${extras.usage}\x1b[39m`)
  const env = [...(extras.ignoresStorage ? [] : STORE_ENV), ...(extras.env ?? []), ...OUTPUT_ENV]
  const width = Math.max(...env.map((name) => name.length))
  const sections = [text.trimEnd()]
  if (leaf) sections.push([heading('ENVIRONMENT'), '', ...env.map((name) => `  ${name.padEnd(width)}  ${ENVIRONMENT[name] ?? ''}`)].join('\n'))
  if (extras.details) sections.push(extras.details)
  if (path.length === 0) sections.push(ROOT_NOTES)
  // citty pads every column, the last one included.
  const help = `${sections.join('\n\n').replace(/[ \t]+$/gm, '')}\n`
  return useColor(out) ? help : stripAnsi(help)
}
