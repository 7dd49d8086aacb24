import { usageError } from '../lib/errors.ts'

/**
 * The program and its arguments: everything after the first `--`, passed on exactly as given,
 * `--help` and another `--` included. (exec's own flags before it are checked with every other
 * command's, in commands/_check-args.ts.)
 */
export function splitCommand(rawArgs: readonly string[]): string[] {
  const dashDash = rawArgs.indexOf('--')
  if (dashDash === -1) throw usageError('missing `--` before the program: qwenauth exec [options] -- <command> [args...]')
  const command = rawArgs.slice(dashDash + 1)
  if (command.length === 0 || !command[0]) throw usageError('missing command after `--`: qwenauth exec [options] -- <command> [args...]')
  return command
}
