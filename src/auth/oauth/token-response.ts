import { QwenauthError } from '../../lib/errors.ts'
import type { GrantedTokens } from '../../store/tokens.ts'

/**
 * A token endpoint answer (device grant or refresh grant, docs/qwen-protocol.md §2) as the tokens to
 * store: `expires_in` seconds become an absolute expiry as of `now`.
 */
export function parseTokenResponse(body: Record<string, unknown>, now = Date.now()): GrantedTokens {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined)
  const accessToken = str(body.access_token)
  if (!accessToken) throw new QwenauthError('the token endpoint answered without an access_token')
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in)
  const refreshToken = str(body.refresh_token)
  const resourceUrl = str(body.resource_url) ?? str(body.endpoint)
  return {
    accessToken,
    tokenType: str(body.token_type) ?? 'Bearer',
    expiresAt: now + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000,
    ...(refreshToken ? { refreshToken } : {}),
    ...(resourceUrl ? { resourceUrl } : {}),
  }
}
