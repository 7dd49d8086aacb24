import { envNumber } from '../../lib/env-number.ts'
import { DEFAULTS } from '../../defaults.ts'
import { ExitCode, QwenauthError } from '../../lib/errors.ts'
import { RefreshTokenRejected, type GrantedTokens } from '../../store/tokens.ts'
import { QWEN_CLIENT_ID, TOKEN_PATH } from './constants.ts'
import { oauthErrorText, postForm } from './http.ts'
import { parseTokenResponse } from './token-response.ts'

/** The bound on one refresh request: QWENAUTH_REFRESH_TIMEOUT_MS, else the official CLI's 30 s. */
export function refreshTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  return envNumber(env, 'QWENAUTH_REFRESH_TIMEOUT_MS') || DEFAULTS.refreshTimeoutMs
}

/**
 * One refresh request, bounded by `timeoutMs` (default: refreshTimeoutMs()). 400/401 mean the
 * refresh token is dead (RefreshTokenRejected); other failures (5xx, network, timeout) are
 * transient and throw a plain QwenauthError.
 */
export async function refreshGrant(oauthUrl: string, refreshToken: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<GrantedTokens> {
  const { timeoutMs = refreshTimeoutMs(), signal } = options
  const { status, body } = await postForm(
    `${oauthUrl}${TOKEN_PATH}`,
    { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: QWEN_CLIENT_ID },
    { timeoutMs, ...(signal ? { signal } : {}) },
  )
  if (status === 400 || status === 401) throw new RefreshTokenRejected(oauthErrorText(body))
  if (status < 200 || status >= 300) {
    throw new QwenauthError(`token refresh failed with HTTP ${status}: ${oauthErrorText(body)}`, ExitCode.network)
  }
  return parseTokenResponse(body)
}
