import { usageError } from '../lib/errors.ts'

export interface FlagSpec {
  /** Long names (and one-letter aliases) that take a value. */
  values: string[]
  /** Long names that take none. */
  booleans: string[]
}

/**
 * Splits `exec`'s own arguments at the first `--`. Everything after it is the program and its
 * arguments, passed on exactly as given, `--help` and another `--` included. Before it only
 * exec's own flags are allowed: a stray word or an unknown flag is a usage error rather than
 * silently ignored (a mistyped `--direct` must not quietly run in proxy mode).
 */
export function splitCommand(rawArgs: readonly string[], flags: FlagSpec): string[] {
  const dashDash = rawArgs.indexOf('--')
  const own = dashDash === -1 ? rawArgs : rawArgs.slice(0, dashDash)
  checkOwnFlags(own, flags)
  if (dashDash === -1) throw usageError('missing `--` before the program: qwenauth exec [options] -- <command> [args...]')
  const command = rawArgs.slice(dashDash + 1)
  if (command.length === 0 || !command[0]) throw usageError('missing command after `--`: qwenauth exec [options] -- <command> [args...]')
  return command
}

function checkOwnFlags(own: readonly string[], flags: FlagSpec): void {
  for (let i = 0; i < own.length; i++) {
    const token = own[i] ?? ''
    if (!token.startsWith('-') || token === '-') {
      throw usageError(`unexpected argument "${token}": put the program after \`--\`, as in qwenauth exec -- ${token}`)
    }
    const name = token.replace(/^--?/, '').split('=')[0] ?? ''
    if (flags.values.includes(name)) {
      if (!token.includes('=') && ++i >= own.length) throw usageError(`${token} needs a value`)
      continue
    }
    if (flags.booleans.includes(name) || flags.booleans.includes(name.replace(/^no-/, ''))) continue
    throw usageError(`unknown option ${token} (see \`qwenauth exec --help\`)`)
  }
}
