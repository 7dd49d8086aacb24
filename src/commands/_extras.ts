/**
 * What a command needs beyond its citty definition, registered once beside it: longer help,
 * the environment it reads, the values its flags take, and how its arguments are checked.
 * (citty prints a description in the parent's command list too, so that must stay one line.)
 */
export interface CommandExtras {
  /** Longer help, shown under the command's own `--help` only. */
  details?: string
  /** A usage line to show instead of the one citty derives. */
  usage?: string
  /** Environment variables this command reads besides those every command reads. */
  env?: readonly string[]
  /** What a flag or positional takes, for completion: a fixed list, an account, a directory. */
  values?: Record<string, readonly string[] | 'account' | 'directory'>
  /** Checks with messages only this command can give; run before the generic argument check. */
  checkFirst?: (rawArgs: readonly string[]) => void
  /** The message for a word that is not an argument of this command (default: generic). */
  unexpectedWord?: (word: string) => string
  /** Everything after `--` is another program's (exec): not checked, and no positionals before. */
  passThrough?: boolean
  /** Takes any number of positional words (help). */
  variadic?: boolean
  /** Why `--storage` does not apply, for a command that reads no store or names its own (store copy). */
  ignoresStorage?: string
}

const registry = new WeakMap<object, CommandExtras>()

export function withExtras<T extends object>(command: T, extras: CommandExtras): T {
  registry.set(command, extras)
  return command
}

export function extrasOf(command: object): CommandExtras {
  return registry.get(command) ?? {}
}
