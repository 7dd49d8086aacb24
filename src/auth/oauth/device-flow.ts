import { ExitCode, QwenauthError } from '../../lib/errors.ts'
import { registerSecret } from '../../lib/redact.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { DEVICE_CODE_PATH, DEVICE_GRANT_TYPE, QWEN_CLIENT_ID, QWEN_SCOPE, TOKEN_PATH } from './constants.ts'
import { oauthErrorText, postForm, UNREADABLE_ANSWER, type FormResponse } from './http.ts'
import { logger } from '../../lib/logger.ts'
import { createPkcePair } from './pkce.ts'
import type { GrantedTokens } from '../../store/tokens.ts'
import { parseTokenResponse } from './token-response.ts'

/** RFC 8628 device authorization with PKCE, docs/qwen-protocol.md §1. */
export interface DeviceAuthorization {
  deviceCode: string
  userCode: string
  verificationUri: string
  verificationUriComplete: string
  expiresAt: number
  /** Seconds; the server's `interval`, else 2 s as the official CLI starts. */
  intervalSec: number
  codeVerifier: string
}

const DEFAULT_INTERVAL_SEC = 2
/** RFC 8628 §3.5: on slow_down, add 5 seconds to the interval, for this and all later polls. */
const SLOW_DOWN_STEP_SEC = 5

export async function requestDeviceAuthorization(oauthUrl: string, signal?: AbortSignal, clock: Clock = systemClock): Promise<DeviceAuthorization> {
  const pkce = createPkcePair()
  // Together they redeem the login: an error message that repeats them must not show them.
  registerSecret(pkce.verifier)
  const { status, body } = await postForm(
    `${oauthUrl}${DEVICE_CODE_PATH}`,
    { client_id: QWEN_CLIENT_ID, scope: QWEN_SCOPE, code_challenge: pkce.challenge, code_challenge_method: 'S256' },
    { timeoutMs: 30_000, sayWhenSlow: true, ...(signal ? { signal } : {}) },
  )
  const deviceCode = body.device_code
  const userCode = body.user_code
  if (status >= 500) {
    // The server failed, it did not refuse: temporary, and exit 4 as any server that failed.
    throw new QwenauthError(`the Qwen OAuth server failed to start a login (HTTP ${status}): ${oauthErrorText(body)}; try again shortly`, ExitCode.network)
  }
  if (status < 200 || status >= 300 || typeof deviceCode !== 'string' || typeof userCode !== 'string') {
    throw new QwenauthError(`the Qwen OAuth server refused to start a login (HTTP ${status}): ${oauthErrorText(body)}`, ExitCode.failure, rootUrlHint(oauthUrl))
  }
  registerSecret(deviceCode)
  const verificationUri = typeof body.verification_uri === 'string' ? body.verification_uri : ''
  const complete = typeof body.verification_uri_complete === 'string' ? body.verification_uri_complete : verificationUri
  const expiresIn = Number(body.expires_in) > 0 ? Number(body.expires_in) : 600
  const interval = Number(body.interval) > 0 ? Number(body.interval) : DEFAULT_INTERVAL_SEC
  return {
    deviceCode,
    userCode,
    verificationUri,
    verificationUriComplete: complete,
    expiresAt: clock.now() + expiresIn * 1000,
    intervalSec: interval,
    codeVerifier: pkce.verifier,
  }
}

/**
 * QWENAUTH_OAUTH_URL is the server's root; an API base (`…/v1`) there is a common mix-up, and
 * its 404 says nothing about it. (A root behind a path prefix is legitimate, so only a hint.)
 */
function rootUrlHint(oauthUrl: string): string | undefined {
  const { origin, pathname } = new URL(oauthUrl)
  if (pathname === '/' || pathname === '') return undefined
  return `QWENAUTH_OAUTH_URL should be the OAuth server's root (such as ${origin} or https://chat.qwen.ai), not a path like ${pathname}: qwenauth adds ${DEVICE_CODE_PATH} itself`
}

/**
 * Polls until the user approves, then returns the tokens. Every other outcome ends in its own
 * error and exit code. The interval only ever grows.
 *
 * A poll the server fails (5xx, an answer that is not JSON, no answer at all) says nothing about
 * the code: the user may be approving on their phone right now. As the official CLI does,
 * polling goes on at the interval until the code expires; the first failure of a run of them is
 * told (`notice`, a line on stderr by default), the rest only with QWENAUTH_DEBUG.
 */
export async function pollForTokens(
  oauthUrl: string,
  auth: DeviceAuthorization,
  signal?: AbortSignal,
  clock: Clock = systemClock,
  notice: (line: string) => void = (line) => logger.warn(line),
): Promise<GrantedTokens> {
  let intervalMs = auth.intervalSec * 1000
  /** While the server keeps failing, its last failure: an expiry meanwhile is blamed on it. */
  let failing: string | undefined
  for (;;) {
    const remaining = auth.expiresAt - clock.now()
    if (remaining <= 0) break
    await clock.sleep(Math.min(intervalMs, remaining), signal)
    if (clock.now() >= auth.expiresAt) break
    const answer = await poll(oauthUrl, auth, signal)
    const failure = typeof answer === 'string' ? answer : serverFailure(answer)
    if (failure !== undefined) {
      if (failing === undefined) notice(`${failure}; still waiting for approval`)
      else logger.debug(`poll failed again: ${failure}`)
      failing = failure
      continue
    }
    failing = undefined
    const { status, body } = answer as FormResponse
    if (status >= 200 && status < 300) return parseTokenResponse(body, clock.now())
    const error = typeof body.error === 'string' ? body.error : ''
    if (error === 'authorization_pending') continue
    if (error === 'slow_down' || status === 429) {
      intervalMs += SLOW_DOWN_STEP_SEC * 1000
      continue
    }
    throw pollError(status, error, body)
  }
  if (failing !== undefined) {
    throw new QwenauthError(`the login code expired while the Qwen OAuth server was failing (${failing}): run \`qwenauth login\` again`, ExitCode.network)
  }
  throw new QwenauthError('the login code expired before it was approved: run `qwenauth login` again', ExitCode.loginTimedOut)
}

/** One poll: the server's answer, or why there was none (a network error or timeout). */
async function poll(oauthUrl: string, auth: DeviceAuthorization, signal: AbortSignal | undefined): Promise<FormResponse | string> {
  try {
    return await postForm(
      `${oauthUrl}${TOKEN_PATH}`,
      { grant_type: DEVICE_GRANT_TYPE, client_id: QWEN_CLIENT_ID, device_code: auth.deviceCode, code_verifier: auth.codeVerifier },
      { timeoutMs: 30_000, ...(signal ? { signal } : {}) },
    )
  } catch (error) {
    // Ctrl-C, or a QWENAUTH_OAUTH_URL that is no URL, ends the login; a network error does not.
    if (signal?.aborted || !(error instanceof QwenauthError) || error.exitCode !== ExitCode.network) throw error
    return error.message
  }
}

/** A 5xx, or an answer that is not JSON (a proxy's error page): the server failed, not the login. */
function serverFailure({ status, body }: FormResponse): string | undefined {
  if (status >= 500) return `the Qwen OAuth server failed (HTTP ${status}): ${oauthErrorText(body)}`
  if (body.error === UNREADABLE_ANSWER) return `the Qwen OAuth server answered something that is not JSON (HTTP ${status}): ${oauthErrorText(body)}`
  return undefined
}

function pollError(status: number, error: string, body: Record<string, unknown>): QwenauthError {
  if (error === 'expired_token') {
    return new QwenauthError('the login code expired: run `qwenauth login` again', ExitCode.loginExpired)
  }
  if (error === 'access_denied') {
    return new QwenauthError('the login was refused on the approval page; nothing was saved', ExitCode.loginDenied)
  }
  if (status === 401) {
    return new QwenauthError('the OAuth server no longer knows this login code: run `qwenauth login` again', ExitCode.loginInvalidCode)
  }
  return new QwenauthError(`the login failed (HTTP ${status}): ${oauthErrorText(body)}`)
}
