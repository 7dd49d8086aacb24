import { formatDuration } from '../lib/duration.ts'
import { errorText, ExitCode, QwenauthError } from '../lib/errors.ts'
import { redact } from '../lib/redact.ts'
import { earliestCooldownEnd } from '../pool/choose.ts'
import type { AccountPool } from '../pool/pool.ts'
import { ADD_SERVED_ACCOUNT, describeAccounts, keyRefusedMessage, notServedMessage } from '../pool/messages.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import { proxyError, type InboundProtocol, type Plan, type ProxyError, type UpstreamCall } from './protocols/protocol.ts'
import { countServed, deliver } from './relay.ts'
import type { RequestRecord } from './request-log.ts'
import type { ProxyState } from './state.ts'
import { readAll, sendUpstream, UpstreamExchange } from './upstream.ts'

/** Why one account could not answer one request. */
export interface AttemptFailure {
  accountId: string
  label: string
  reason: string
  /** A 5xx, a network error or a timeout: worth trying elsewhere, but bounded. */
  transient: boolean
}

/**
 * Sends a request to the pool's accounts in order until one answers. Quota, 401 and not-served
 * failures move on at once (each marks its account, so the list is finite); 5xx and network
 * errors move on too, but only `maxTransientRetries` times. The answer is the protocol's to
 * shape: the upstream's through `call.render`, qwenauth's own through `protocol.error`.
 */
export async function failover(
  state: ProxyState,
  protocol: InboundProtocol,
  plan: Plan,
  signal: AbortSignal | undefined,
  record: RequestRecord,
): Promise<Response> {
  const failures: AttemptFailure[] = []
  const tried = new Set<string>()
  let transient = 0
  for (;;) {
    if (signal?.aborted) return clientGone(protocol)
    const next = nextCall(await state.pool.candidates(), tried, plan)
    if (!next) break
    tried.add(next.account.id)
    const result = await tryAccount(state, next.account, next.call, signal, record)
    if (result instanceof Response) {
      record.accountLabel = next.account.label
      record.accountId = next.account.id
      return result
    }
    if (signal?.aborted) return clientGone(protocol)
    failures.push(result)
    record.failovers.push(`${result.label}: ${result.reason}`)
    state.metrics.failover(result.accountId)
    if (result.transient && ++transient > state.settings.maxTransientRetries) break
  }
  const error = nothingUsable(await state.pool.accounts(), failures, state.settings.now())
  state.onUnservable?.(error)
  return protocol.error(error)
}

function nextCall(candidates: Account[], tried: Set<string>, plan: Plan): { account: Account; call: UpstreamCall } | undefined {
  for (const account of candidates) {
    if (tried.has(account.id)) continue
    const call = plan.callFor(account)
    if (call) return { account, call }
    tried.add(account.id)
  }
  return undefined
}

/** Nobody reads it; it only ends the record. */
function clientGone(protocol: InboundProtocol): Response {
  return protocol.error(proxyError(499, 'the client closed the request', 'invalid_request_error', 'client_closed_request'))
}

interface Sent {
  response: Response
  exchange: UpstreamExchange
}

interface UpstreamError {
  code: string | undefined
  message: string
  retryAfterMs: number | undefined
}

/**
 * One account's go at a request: its credential, the request, one refresh-and-retry on a 401,
 * and the marks its failures earn (cooldown, not-served). Returns the client's response, or why
 * the next account should be tried.
 */
async function tryAccount(state: ProxyState, account: Account, call: UpstreamCall, signal: AbortSignal | undefined, record: RequestRecord): Promise<Response | AttemptFailure> {
  const { pool } = state
  const freshOptions = signal ? { signal } : {}
  let credential: Account
  try {
    credential = await credentialFor(state, account, freshOptions, account.accessToken)
  } catch (error) {
    return noCredential(state, account, error, signal)
  }
  let sent = await send(state, credential, call, signal, record)
  if (!('response' in sent)) return sent

  if (sent.response.status === 401) {
    const refused = await readUpstreamError(state, sent)
    if (credential.kind !== 'qwen-oauth') {
      return markedFailure(state, credential, refused, keyRefusedMessage(credential.label, credential.provider), 'needs-login')
    }
    try {
      credential = await credentialFor(state, account, { ...freshOptions, rejectedToken: credential.accessToken ?? '' }, credential.accessToken)
    } catch (error) {
      return noCredential(state, account, error, signal)
    }
    sent = await send(state, credential, call, signal, record)
    if (!('response' in sent)) return sent
    if (sent.response.status === 401) {
      return markedFailure(state, credential, await readUpstreamError(state, sent), notServedMessage(credential.label), 'not-served')
    }
  }

  const status = sent.response.status
  if (status === 429) {
    const limited = await readUpstreamError(state, sent)
    const quota = limited.code === 'insufficient_quota' || /quota/i.test(limited.message)
    const restMs = cooldownMs(quota, limited.retryAfterMs, state.settings)
    const reason = quota ? `quota exhausted (${limited.message})` : `rate limited (${limited.message})`
    const now = state.settings.now()
    countServed(state, credential, 429, undefined, reason)
    state.metrics.cooldown(credential.id, quota ? 'quota' : 'rate_limit')
    void pool.markCooldown(credential.id, now + restMs, reason, limited.code ?? 'rate_limited')
    return { accountId: credential.id, label: credential.label, reason, transient: false }
  }
  if (status >= 500) {
    const failed = await readUpstreamError(state, sent)
    const reason = `upstream error ${status} (${failed.message})`
    countServed(state, credential, status, undefined, reason)
    return { accountId: credential.id, label: credential.label, reason, transient: true }
  }
  return deliver(state, credential, call, sent.response, sent.exchange, record)
}

/**
 * How long an account rests after a 429: the quota cooldown after a spent quota; otherwise the
 * upstream's Retry-After, else the rate-limit default, and at least a second: after
 * `Retry-After: 0` the account must still be resting when the answer is made, or the client gets
 * "no usable account" instead of a 429.
 */
export function cooldownMs(quota: boolean, retryAfterMs: number | undefined, settings: { quotaCooldownMs: number; rateLimitCooldownMs: number }): number {
  return quota ? settings.quotaCooldownMs : Math.max(1000, retryAfterMs ?? settings.rateLimitCooldownMs)
}

/**
 * The account's credential from the pool; a token that changed on the way (an OAuth refresh) and
 * a refresh that failed are counted for the metrics.
 */
async function credentialFor(state: ProxyState, account: Account, options: Parameters<AccountPool['credential']>[1], heldToken: string | undefined): Promise<Account> {
  try {
    const credential = await state.pool.credential(account, options)
    if (account.kind === 'qwen-oauth' && credential.accessToken !== heldToken) state.metrics.refreshed(account.id, credential.accessToken)
    return credential
  } catch (error) {
    if (account.kind === 'qwen-oauth' && !options?.signal?.aborted) state.metrics.refreshFailed(account.id, error)
    throw error
  }
}

async function send(state: ProxyState, account: Account, call: UpstreamCall, signal: AbortSignal | undefined, record: RequestRecord): Promise<Sent | AttemptFailure> {
  const exchange = new UpstreamExchange(signal)
  try {
    record.upstreamSentAt = performance.now()
    const response = await sendUpstream(account, call, state.settings, exchange)
    record.upstreamHeadAt = performance.now()
    return { response, exchange }
  } catch (error) {
    exchange.finish()
    const reason = `could not reach the upstream: ${errorText(error)}`
    if (!exchange.clientGone) countServed(state, account, 502, undefined, reason)
    return { accountId: account.id, label: account.label, reason, transient: true }
  }
}

/** The code and message of an upstream error, whatever shape it has (OpenAI's, Anthropic's, none). */
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
    const error = (JSON.parse(text) as { error?: { code?: unknown; type?: unknown; message?: unknown } }).error
    if (typeof error?.code === 'string') code = error.code
    else if (typeof error?.type === 'string') code = error.type
    if (typeof error?.message === 'string') message = error.message
  } catch {}
  return { code, message, retryAfterMs: retryAfterMs(response.headers.get('retry-after'), state.settings.now()) }
}

/** `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function markedFailure(state: ProxyState, account: Account, refused: UpstreamError, message: string, status: 'not-served' | 'needs-login'): AttemptFailure {
  countServed(state, account, 401, undefined, message)
  void state.pool.markUnusable(account.id, status, message, refused.code ?? 'unauthorized')
  return { accountId: account.id, label: account.label, reason: status === 'not-served' ? 'not served (401 after a fresh token refresh)' : 'API key refused (401)', transient: false }
}

function noCredential(state: ProxyState, account: Account, error: unknown, signal: AbortSignal | undefined): AttemptFailure {
  const needsLogin = error instanceof QwenauthError && error.exitCode === ExitCode.needsLogin
  const reason = needsLogin ? 'needs a new login (`qwenauth login`)' : `token refresh failed: ${errorText(error)}`
  // A client that left stopped waiting for the refresh; that is no failure of the account.
  if (!signal?.aborted) state.stats.add(account.id, { failures: 1, lastError: { message: reason, at: state.settings.now() } })
  return { accountId: account.id, label: account.label, reason, transient: !needsLogin }
}

/**
 * The answer when no account could serve, shaped so clients do not retry in vain: 429 with
 * Retry-After at the earliest cooldown end when waiting helps, 502 when usable accounts all
 * failed upstream (worth a retry), 403 when every account needs the user to act (not served,
 * a refused key, a new login), 503 with no accounts at all. The message names every account
 * and what to do about it.
 */
export function nothingUsable(accounts: Account[], failures: AttemptFailure[], now: number): ProxyError {
  if (accounts.length === 0) {
    return proxyError(
      503,
      'qwenauth has no accounts: log in with `qwenauth login` (Qwen OAuth) or add an API key with `qwenauth login --provider <name|url>`',
      'service_unavailable',
      'no_accounts',
    )
  }
  const described = describeAccounts(accounts, now, new Map(failures.map((f) => [f.accountId, f.reason])))
  const back = earliestCooldownEnd(accounts, now)
  if (back !== undefined) {
    const seconds = Math.max(1, Math.ceil((back - now) / 1000))
    const quota = accounts.some((a) => effectiveStatus(a, now) === 'cooling-down' && a.lastError?.code === 'insufficient_quota')
    return proxyError(
      429,
      `no account can serve right now: ${described}. The first one is usable again in ${formatDuration(back - now)}; or ${ADD_SERVED_ACCOUNT}`,
      quota ? 'insufficient_quota' : 'rate_limit_error',
      quota ? 'insufficient_quota' : 'rate_limit_exceeded',
      { 'retry-after': String(seconds) },
    )
  }
  if (failures.some((f) => f.transient)) {
    return proxyError(502, `the upstream failed for every account tried: ${described}. Retry shortly; \`qwenauth status\` shows the accounts`, 'server_error', 'upstream_error')
  }
  return proxyError(403, `no usable account: ${described}. Fix them, or ${ADD_SERVED_ACCOUNT}`, 'permission_error', 'no_usable_account')
}
