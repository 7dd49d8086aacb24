import { defineCommand, type CommandDef } from 'citty'
import { closest } from '../lib/did-you-mean.ts'
import { usageError } from '../lib/errors.ts'
import { VERSION } from '../lib/version.ts'

// Sub-commands load on demand so `--version`, `--help` and `token` start fast.
export const root = defineCommand({
  meta: { name: 'qwenauth', version: VERSION, description: 'Qwen credentials for any program: device-flow login, an account pool, env, exec and an OpenAI-compatible proxy' },
  subCommands: {
    login: () => import('./login.ts').then((m) => m.default),
    status: () => import('./status.ts').then((m) => m.default),
    use: () => import('./use.ts').then((m) => m.default),
    edit: () => import('./edit.ts').then((m) => m.default),
    logout: () => import('./logout.ts').then((m) => m.default),
    reset: () => import('./reset.ts').then((m) => m.default),
    token: () => import('./token.ts').then((m) => m.default),
    env: () => import('./env.ts').then((m) => m.default),
    exec: () => import('./exec.ts').then((m) => m.default),
    serve: () => import('./serve.ts').then((m) => m.default),
    store: () => import('./store.ts').then((m) => m.default),
    completion: () => import('./completion.ts').then((m) => m.default),
    help: () => import('./help.ts').then((m) => m.default),
  },
})

/** A command named by the words on the command line, and the arguments left for it. */
export interface ResolvedCommand {
  /** `['store', 'copy']`; empty for qwenauth itself. */
  path: string[]
  command: CommandDef
  /** The arguments after the command's name (flags before it were only --help/-h). */
  args: string[]
}

type Lazy<T> = T | Promise<T> | (() => T | Promise<T>)

/** A command's sub-commands, not yet loaded: loading one runs its module (keep `token` fast). */
async function lazySubCommands(command: CommandDef): Promise<Record<string, Lazy<CommandDef>>> {
  const subs = await (typeof command.subCommands === 'function' ? command.subCommands() : command.subCommands)
  return (subs ?? {}) as Record<string, Lazy<CommandDef>>
}

async function load(sub: Lazy<CommandDef>): Promise<CommandDef> {
  return typeof sub === 'function' ? sub() : sub
}

/** Every sub-command, loaded (for help and completion, which show them all). */
export async function subCommandsOf(command: CommandDef): Promise<Record<string, CommandDef>> {
  const out: Record<string, CommandDef> = {}
  for (const [name, sub] of Object.entries(await lazySubCommands(command))) out[name] = await load(sub)
  return out
}

/** `qwenauth store copy`, for messages. */
export function commandLine(path: readonly string[]): string {
  return ['qwenauth', ...path].join(' ')
}

/**
 * Follows the command words (`store copy`) down the tree. Before a command's name only --help
 * stands: an option there would be silently dropped by citty, so it is a usage error, as is a
 * word that names no command (with the nearest name, when one is close).
 */
export async function resolveCommand(argv: readonly string[]): Promise<ResolvedCommand> {
  const path: string[] = []
  let command: CommandDef = root
  let i = 0
  for (;;) {
    if (!command.subCommands) return { path, command, args: argv.slice(i) }
    const subs = await lazySubCommands(command)
    while (i < argv.length && (argv[i] === '--help' || argv[i] === '-h')) i++
    const word = argv[i]
    if (word === undefined || word === '--') return { path, command, args: argv.slice(i) }
    if (word.startsWith('-')) {
      const next = argv.slice(i).find((a) => !a.startsWith('-'))
      const where = next && subs[next] ? `after the command: ${commandLine([...path, next])} ${word}` : `after a command: ${commandLine([...path, '<command>'])} ${word}`
      throw usageError(`${word} before the command: options go ${where} (see \`${commandLine(path)} --help\`)`)
    }
    const sub = Object.hasOwn(subs, word) ? subs[word] : undefined
    if (!sub) {
      const guess = closest(word, Object.keys(subs))
      throw usageError(`unknown command "${word}"${guess ? `: did you mean \`${commandLine([...path, guess])}\`?` : ''} (see \`${commandLine(path)} --help\`)`)
    }
    path.push(word)
    command = await load(sub)
    i++
  }
}
