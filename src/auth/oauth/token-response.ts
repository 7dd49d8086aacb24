import { QwenauthError } from '../../lib/errors.ts'

/** A token endpoint answer (device grant or refresh grant), protocol page §2. */
export interface TokenResponse {
  accessToken: string
  refreshToken?: string
  tokenType: string
  expiresIn: number
  scope?: string
  resourceUrl?: string
}

export function parseTokenResponse(body: Record<string, unknown>): TokenResponse {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  const accessToken = str(body.access_token)
  if (!accessToken) throw new QwenauthError('the token endpoint answered without an access_token')
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in)
  const refreshToken = str(body.refresh_token)
  const scope = str(body.scope)
  const resourceUrl = str(body.resource_url) ?? str(body.endpoint)
  return {
    accessToken,
    tokenType: str(body.token_type) ?? 'Bearer',
    expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600,
    ...(refreshToken ? { refreshToken } : {}),
    ...(scope ? { scope } : {}),
    ...(resourceUrl ? { resourceUrl } : {}),
  }
}
