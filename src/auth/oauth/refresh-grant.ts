import { ExitCode, QwenauthError } from '../../lib/errors.ts'
import { QWEN_CLIENT_ID, TOKEN_PATH } from './constants.ts'
import { oauthErrorText, postForm } from './http.ts'
import { parseTokenResponse, type TokenResponse } from './token-response.ts'

/** 400/401 to a refresh: the refresh token is dead and only a new login helps. */
export class RefreshRejectedError extends QwenauthError {
  constructor(detail: string) {
    super(`the refresh token was refused (${detail})`, ExitCode.needsLogin)
  }
}

const REFRESH_TIMEOUT_MS = 30_000

/** One refresh request. Transient failures (5xx, network, timeout) throw a plain QwenauthError. */
export async function refreshGrant(oauthUrl: string, refreshToken: string, signal?: AbortSignal): Promise<TokenResponse> {
  const timeoutMs = Number(process.env.QWENAUTH_REFRESH_TIMEOUT_MS) || REFRESH_TIMEOUT_MS
  const { status, body } = await postForm(
    `${oauthUrl}${TOKEN_PATH}`,
    { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: QWEN_CLIENT_ID },
    { timeoutMs, ...(signal ? { signal } : {}) },
  )
  if (status === 400 || status === 401) throw new RefreshRejectedError(oauthErrorText(body))
  if (status < 200 || status >= 300) {
    throw new QwenauthError(`token refresh failed with HTTP ${status}: ${oauthErrorText(body)}`, ExitCode.network)
  }
  return parseTokenResponse(body)
}
