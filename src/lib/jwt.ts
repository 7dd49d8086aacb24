import { cleanLabel } from './label.ts'

/**
 * The access token is reported to be a JWT naming the user. Nothing guarantees that, so every
 * caller treats an undecodable token as opaque.
 */
export interface TokenClaims {
  sub?: string
  email?: string
  name?: string
  exp?: number
}

export function decodeJwtClaims(token: string | undefined): TokenClaims | undefined {
  const payload = token?.split('.')[1]
  if (!payload || token?.split('.').length !== 3) return undefined
  try {
    const json = Buffer.from(payload, 'base64url').toString('utf8')
    const claims: unknown = JSON.parse(json)
    return claims && typeof claims === 'object' ? (claims as TokenClaims) : undefined
  } catch {
    return undefined
  }
}

/** A stable identity for "is this the same login?": the subject, else the email. */
export function tokenSubject(token: string | undefined): string | undefined {
  const claims = decodeJwtClaims(token)
  const subject = claims?.sub ?? claims?.email
  return typeof subject === 'string' && subject ? subject : undefined
}

/** The label a token's claims give its login (the email, else the name), made a valid label (`cleanLabel`). */
export function tokenLabel(token: string | undefined): string | undefined {
  const claims = decodeJwtClaims(token)
  const label = claims?.email ?? claims?.name
  return typeof label === 'string' ? cleanLabel(label) : undefined
}
