/**
 * Secrets never reach a log line. Known secrets (tokens and keys the process has handled)
 * are replaced wherever they appear; token-shaped strings are masked even when unknown.
 *
 * A known secret of 8 characters or more is replaced wherever it occurs. A shorter one (a weak
 * key, but one qwenauth stores all the same) is replaced only where it stands alone, not inside
 * a longer run of letters, digits, `_` or `-`: replaced everywhere, a 2-character key would
 * garble every line that happens to contain those two characters, and show where the key is.
 */
const LONG_SECRET = 8
const knownSecrets = new Set<string>()
const shortSecrets = new Map<string, RegExp>()

export function registerSecret(secret: string | undefined): void {
  if (!secret) return
  if (secret.length >= LONG_SECRET) knownSecrets.add(secret)
  else if (!shortSecrets.has(secret)) {
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    shortSecrets.set(secret, new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, 'g'))
  }
}

/**
 * The last characters of a key, for people to tell keys apart: up to four, and never so many
 * that fewer than 8 stay hidden (none of a key of 8 characters or fewer).
 */
export function secretHint(secret: string | undefined): string {
  if (!secret) return ''
  const shown = Math.max(0, Math.min(4, secret.length - LONG_SECRET))
  return shown > 0 ? `…${secret.slice(-shown)}` : '…'
}

const TOKEN_PATTERNS: RegExp[] = [
  /\b(Bearer\s+)[\w.~+/=-]{8,}/gi,
  /\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*/g, // JWT
  /\b(sk-|sk_)[\w-]{8,}/g,
  /("(?:access_token|refresh_token|api_key|apiKey|accessToken|refreshToken|code_verifier|device_code)"\s*:\s*")[^"]+/g,
  /\b((?:access_token|refresh_token|code_verifier|device_code)=)[^&\s]+/g,
]

/** Every text a pattern above can match contains one of these: most log lines skip the patterns. */
const MAYBE_TOKEN = /bearer|eyJ|sk[-_]|_token|accesstoken|refreshtoken|api_?key|code_verifier|device_code/i

export function redact(text: string): string {
  let out = text
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]')
  }
  for (const [secret, standalone] of shortSecrets) {
    if (out.includes(secret)) out = out.replace(standalone, '[redacted]')
  }
  if (!MAYBE_TOKEN.test(out)) return out
  for (const pattern of TOKEN_PATTERNS) {
    out = out.replace(pattern, (_m, prefix?: string) =>
      typeof prefix === 'string' ? `${prefix}[redacted]` : '[redacted]',
    )
  }
  return out
}

export function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redact(value)
  if (value instanceof Error) {
    const copy = new Error(redact(value.message))
    copy.name = value.name
    return copy
  }
  if (value && typeof value === 'object') {
    try {
      return JSON.parse(redact(JSON.stringify(value)))
    } catch {
      return '[unprintable]'
    }
  }
  return value
}
