/**
 * Errors that reach the user. Each carries the one line to print and the exit code,
 * so the CLI entry can end every failure the same way without stack traces.
 */
export const ExitCode = {
  failure: 1,
  usage: 2,
  needsLogin: 3,
  network: 4,
  loginDenied: 5,
  loginExpired: 6,
  loginInvalidCode: 7,
  loginTimedOut: 8,
  lockTimeout: 9,
  noUsableAccount: 10,
  notServed: 11,
  notFound: 127,
  cancelled: 130,
} as const

export class QwenauthError extends Error {
  override readonly name = 'QwenauthError'
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
    readonly hint?: string,
  ) {
    super(message)
  }
}

/**
 * A failure as `--json` callers get it on stdout (besides the line on stderr), one shape for
 * every command: `{"error":{"message","exitCode","code","hint"?}}`, `code` naming the exit code.
 */
export function errorJson(message: string, exitCode: number, hint?: string): string {
  const name = Object.entries(ExitCode).find(([, code]) => code === exitCode)?.[0] ?? (exitCode > 128 ? 'cancelled' : 'failure')
  const code = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
  return JSON.stringify({ error: { message, exitCode, code, ...(hint ? { hint } : {}) } })
}

export function usageError(message: string): QwenauthError {
  return new QwenauthError(message, ExitCode.usage)
}

/** A Node/Bun/Deno system error code such as ENOENT, or undefined. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

const FS_REASONS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EISDIR: 'it is a directory',
}

/** A filesystem failure as one line naming the path, or undefined for other errors. */
export function describeFsError(error: unknown): string | undefined {
  const code = errnoCode(error)
  const reason = code ? FS_REASONS[code] : undefined
  if (!reason) return undefined
  const path = (error as { path?: unknown }).path
  return `cannot use ${typeof path === 'string' ? path : 'the qwenauth directory'}: ${reason} (${code}); check QWEN_HOME`
}

/** An error's message with its cause, when the cause says more (fetch's "fetch failed" does not). */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    const detail = cause instanceof Error && cause.message && !error.message.includes(cause.message) ? ` (${cause.message})` : ''
    return `${error.message}${detail}`
  }
  return String(error)
}
