import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { redact } from '../lib/redact.ts'
import { keyRefusedMessage, notServedMessage } from '../pool/messages.ts'
import type { Account } from '../store/account-model.ts'
import { countServed, deliver } from './deliver.ts'
import type { RequestRecord } from './request-log.ts'
import { errorText, type AttemptFailure, type ProxyState } from './state.ts'
import { UpstreamExchange } from './exchange.ts'
import { readAll, sendUpstream, type UpstreamCall } from './upstream.ts'

interface Sent {
  response: Response
  exchange: UpstreamExchange
}

interface UpstreamError {
  status: number
  code: string | undefined
  message: string
  retryAfterMs: number | undefined
}

/**
 * One account's go at a request: its credential, the request, one refresh-and-retry on a 401,
 * and the marks its failures earn (cooldown, not-served). Returns the client's response, or why
 * the next account should be tried.
 */
export async function tryAccount(
  state: ProxyState,
  account: Account,
  call: UpstreamCall,
  signal: AbortSignal | undefined,
  record: RequestRecord,
): Promise<Response | AttemptFailure> {
  const { pool } = state
  const freshOptions = signal ? { signal } : {}
  let credential: Account
  try {
    credential = await pool.credential(account, freshOptions)
  } catch (error) {
    return noCredential(state, account, error, signal)
  }
  let sent = await send(state, credential, call, signal)
  if (!('response' in sent)) return sent

  if (sent.response.status === 401) {
    const refused = await readUpstreamError(state, sent)
    if (credential.kind !== 'qwen-oauth') {
      return markedFailure(state, credential, refused, keyRefusedMessage(credential.label, credential.provider), 'needs-login')
    }
    try {
      credential = await pool.credential(account, { ...freshOptions, rejectedToken: credential.accessToken ?? '' })
    } catch (error) {
      return noCredential(state, account, error, signal)
    }
    sent = await send(state, credential, call, signal)
    if (!('response' in sent)) return sent
    if (sent.response.status === 401) {
      return markedFailure(state, credential, await readUpstreamError(state, sent), notServedMessage(credential.label), 'not-served')
    }
  }

  const status = sent.response.status
  if (status === 429) {
    const limited = await readUpstreamError(state, sent)
    const quota = limited.code === 'insufficient_quota' || /quota/i.test(limited.message)
    // At least a second for a rate limit: after `Retry-After: 0` the account must still be resting
    // when the answer is made, or the client gets a 503 "no usable account" instead of a 429.
    const restMs = quota ? state.settings.quotaCooldownMs : Math.max(1000, limited.retryAfterMs ?? state.settings.rateLimitCooldownMs)
    const reason = quota ? `quota exhausted (${limited.message})` : `rate limited (${limited.message})`
    const now = state.settings.now()
    countServed(state, credential, 429, undefined, reason)
    void pool.markCooldown(credential.id, now + restMs, { message: reason, at: now, code: limited.code ?? 'rate_limited' })
    return { accountId: credential.id, label: credential.label, reason, transient: false }
  }
  if (status >= 500) {
    const failed = await readUpstreamError(state, sent)
    const reason = `upstream error ${status} (${failed.message})`
    countServed(state, credential, status, undefined, reason)
    return { accountId: credential.id, label: credential.label, reason, transient: true }
  }
  return deliver(state, credential, sent.response, sent.exchange, record)
}

async function send(state: ProxyState, account: Account, call: UpstreamCall, signal: AbortSignal | undefined): Promise<Sent | AttemptFailure> {
  const exchange = new UpstreamExchange(signal)
  try {
    return { response: await sendUpstream(account, call, state.settings, exchange), exchange }
  } catch (error) {
    exchange.finish()
    const reason = `could not reach the upstream: ${errorText(error)}`
    if (!exchange.clientGone) countServed(state, account, 502, undefined, reason)
    return { accountId: account.id, label: account.label, reason, transient: true }
  }
}

/** The OpenAI-shaped error of an upstream answer, whatever shape it really has. */
async function readUpstreamError(state: ProxyState, sent: Sent): Promise<UpstreamError> {
  const { response, exchange } = sent
  let text = ''
  try {
    // Some upstreams echo the request's credential in their errors; this text goes to clients,
    // logs, `status` and the counters file.
    text = redact(new TextDecoder().decode(await readAll(response, exchange, state.settings.idleTimeoutMs)))
  } catch {}
  exchange.finish()
  let code: string | undefined
  let message = text.slice(0, 300) || response.statusText || `status ${response.status}`
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error
    if (typeof error?.code === 'string') code = error.code
    if (typeof error?.message === 'string') message = error.message
  } catch {}
  return { status: response.status, code, message, retryAfterMs: retryAfterMs(response.headers.get('retry-after'), state.settings.now()) }
}

/** `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function markedFailure(
  state: ProxyState,
  account: Account,
  refused: UpstreamError,
  message: string,
  status: 'not-served' | 'needs-login',
): AttemptFailure {
  const now = state.settings.now()
  countServed(state, account, 401, undefined, message)
  void state.pool.markUnusable(account.id, status, { message, at: now, code: refused.code ?? 'unauthorized' })
  return { accountId: account.id, label: account.label, reason: status === 'not-served' ? 'not served (401 after a fresh token refresh)' : 'API key refused (401)', transient: false }
}

function noCredential(state: ProxyState, account: Account, error: unknown, signal: AbortSignal | undefined): AttemptFailure {
  const needsLogin = error instanceof QwenauthError && error.exitCode === ExitCode.needsLogin
  const reason = needsLogin ? 'needs a new login (`qwenauth login`)' : `token refresh failed: ${errorText(error)}`
  // A client that left stopped waiting for the refresh; that is no failure of the account.
  if (!signal?.aborted) state.stats.add(account.id, { failures: 1, lastError: { message: reason, at: state.settings.now() } })
  return { accountId: account.id, label: account.label, reason, transient: !needsLogin }
}
