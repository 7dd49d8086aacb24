/**
 * Secrets never reach a log line. Known secrets (tokens and keys the process has handled)
 * are replaced wherever they appear; token-shaped strings are masked even when unknown.
 */
const knownSecrets = new Set<string>()

export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret)
}

/** Last four characters, for people to tell keys apart. */
export function secretHint(secret: string | undefined): string {
  return secret ? `…${secret.slice(-4)}` : ''
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
