import { createHash, timingSafeEqual } from 'node:crypto'
import { proxyError, type ProxyError } from './protocols/protocol.ts'

/**
 * Checks a client's key against the configured ones in constant time: both sides are hashed to
 * equal-length digests, and every configured key is compared, so neither the length nor the
 * position of a match shows in the timing.
 */
export function createKeyCheck(keys: string[]): (request: Request) => boolean {
  const digests = keys.map(digest)
  if (digests.length === 0) return () => true
  return (request) => {
    const presented = presentedKey(request.headers)
    if (!presented) return false
    const candidate = digest(presented)
    let match = false
    for (const d of digests) match = timingSafeEqual(d, candidate) || match
    return match
  }
}

/** `Authorization: Bearer K` (what OpenAI SDKs send) or `x-api-key: K` (Anthropic-style clients). */
export function presentedKey(headers: Headers): string | undefined {
  const auth = headers.get('authorization')
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (match?.[1]) return match[1]
  }
  return headers.get('x-api-key')?.trim() || undefined
}

/**
 * Who a client is, for what qwenauth keeps on its behalf (kept responses): a digest of the key it
 * presented, never the key; empty for a keyless proxy (`keyed` false), whose clients are all one
 * whatever placeholder key each sends.
 */
export function clientIdentity(headers: Headers, keyed: boolean): string {
  const key = keyed ? presentedKey(headers) : undefined
  return key ? digest(key).toString('hex').slice(0, 32) : ''
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** The answer to a request without a key, or with a key this proxy does not accept. */
export function unauthorized(request: Request): ProxyError {
  const sent = request.headers.has('authorization') || request.headers.has('x-api-key')
  return proxyError(
    401,
    sent
      ? 'the API key is not one this qwenauth serve accepts'
      : 'an API key is required: send `Authorization: Bearer <key>` or `x-api-key: <key>` with a key given to `qwenauth serve --api-key`',
    'authentication_error',
    'invalid_api_key',
    { 'www-authenticate': 'Bearer' },
  )
}

