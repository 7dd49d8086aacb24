import { usageError } from './errors.ts'

/**
 * Where accounts live (`--storage`, QWENAUTH_STORAGE, `store copy --from/--to`): a directory or a
 * redis:// / rediss:// URL, and nothing else. Anything shaped like some other URL is refused, or
 * it would silently become a directory: `rediss//host:6379` (a forgotten colon) would write the
 * credentials to `./rediss/host:6379/` in whatever directory the command ran in.
 * `source` names the setting in the message. Returns the value unchanged.
 */
export function checkStorageSpec(value: string | undefined, source: string): string {
  if (value === undefined || !value.trim()) throw usageError(`${source} needs a value: a directory or a redis:// or rediss:// URL`)
  // Two letters at least: `C://` and `C:\` are Windows drives, not schemes.
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(value)?.[1]
  if (scheme) {
    if (/^rediss?$/i.test(scheme)) return value
    throw usageError(`${source} ${withoutPassword(value)}: unknown scheme ${scheme}://; give a directory or a redis:// or rediss:// URL`)
  }
  // `redis:/x`, `redis:host` (one slash or none after the colon), `rediss//host` (no colon).
  if (/^[a-z][a-z0-9+.-]+:/i.test(value) || /^[a-z][a-z0-9+.-]*\/\//i.test(value)) {
    throw usageError(`${source} ${withoutPassword(value)} looks like a mistyped URL: write redis://host:port[/db] or rediss://…, or start a directory with ./`)
  }
  return value
}

/** `redis://:secret@host` → `redis://…@host`: messages never show a password. */
function withoutPassword(value: string): string {
  return value.replace(/^([^/]*\/\/?)[^@/]*@/, '$1…@')
}
