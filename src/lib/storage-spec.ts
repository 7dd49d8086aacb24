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
    if (/^rediss?$/i.test(scheme)) return checkRedisUrl(value, source)
    throw usageError(`${source} ${withoutPassword(value)}: unknown scheme ${scheme}://; give a directory or a redis:// or rediss:// URL`)
  }
  // `redis:/x`, `redis:host` (one slash or none after the colon), `rediss//host` (no colon).
  if (/^[a-z][a-z0-9+.-]+:/i.test(value) || /^[a-z][a-z0-9+.-]*\/\//i.test(value)) {
    throw usageError(`${source} ${withoutPassword(value)} looks like a mistyped URL: write redis://host:port[/db] or rediss://…, or start a directory with ./`)
  }
  return value
}

const REDIS_FORM = 'write redis://host:port[/db] or rediss://…'

/**
 * A redis:// or rediss:// URL the Redis driver will take: one that parses, with a port of 1-65535
 * and a database number, so a typo is a usage error here, naming the setting, and not the
 * driver's bare "Invalid URL" once something is read.
 */
function checkRedisUrl(value: string, source: string): string {
  const shown = `${source} ${withoutPassword(value)}`
  // The port first: WHATWG URL refuses 99999 with nothing but "Invalid URL".
  const port = /^[a-z]+:\/\/(?:.*@)?(?:\[[^\]]*\]|[^[:/?#]*)(?::([^/?#]*))?/is.exec(value)?.[1]
  if (port !== undefined && port !== '' && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw usageError(`${shown}: the port must be a number from 1 to 65535, not "${port}"`)
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw usageError(`${shown} is not a valid URL (a space, an unclosed [ of an IPv6 address?): ${REDIS_FORM}`)
  }
  if (url.port === '0') throw usageError(`${shown}: the port must be a number from 1 to 65535, not "0"`)
  const dbs = [url.pathname === '' || url.pathname === '/' ? undefined : url.pathname.slice(1), url.searchParams.get('db') ?? undefined]
  for (const db of dbs) {
    if (db !== undefined && !/^\d{1,9}$/.test(db)) throw usageError(`${shown}: the database must be a number (redis://host:port/0), not "${db}"`)
  }
  return value
}

/** `redis://:secret@host` → `redis://…@host`: messages never show a password (nor a user name). */
function withoutPassword(value: string): string {
  // To the last @: a password may hold a / or an @ that was not percent-encoded.
  return value.replace(/^([^/]*\/\/?).*@/s, '$1…@')
}
