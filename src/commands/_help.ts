/**
 * Longer help for a command, shown under its own `--help` only. citty prints a command's
 * description in the parent's command list too, where anything past one line breaks the table.
 */
const details = new WeakMap<object, string>()

export function withHelpDetails<T extends object>(command: T, text: string): T {
  details.set(command, text)
  return command
}

export function helpDetails(command: object): string | undefined {
  return details.get(command)
}
