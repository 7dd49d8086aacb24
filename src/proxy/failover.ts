import { errorText, ExitCode, QwenauthError } from '../lib/errors.ts'
import { keyRefusedMessage, notServedMessage } from '../pool/messages.ts'
import type { AccountPool, InFlight } from '../pool/pool.ts'
import type { Account } from '../store/account-model.ts'
import { describeClient, isClientGate } from './client-identity.ts'
import { proxyError, type InboundProtocol, type Plan, type ProxyError, type UpstreamCall } from './protocols/protocol.ts'
import { nothingUsable } from './nothing-usable.ts'
import { countServed, deliver, failedBeforeFirstByte } from './relay.ts'
import type { RequestRecord } from './request-log.ts'
import type { ProxyState } from './state.ts'
import { cannotPay, readUpstreamError, restAccount, restUnpaid, type Sent, type UpstreamError } from './refusals.ts'
import { sendUpstream, upstreamHeaders, UpstreamExchange } from './upstream.ts'

/** Why one account could not answer one request. */
export interface AttemptFailure {
  accountId: string
  label: string
  reason: string
  /** A 5xx, a network error or a timeout: worth trying elsewhere, but bounded. */
  transient: boolean
  /** The account serves certain clients only (the Coding Plan's 405) and refused this one: no mark, the next account is tried. */
  gate?: { said: string; userAgent: string | undefined }
  /** No other account would answer differently: this goes to the client at once. */
  final?: ProxyError
}

/**
 * Sends a request to the pool's accounts in order until one answers. Quota, 401, not-served and
 * cannot-pay (402, `Arrearage`) failures move on at once (each marks its account, so the list is finite); 5xx and network
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
  const affinityKey = state.settings.affinity ? plan.affinityKey : undefined
  let transient = 0
  for (;;) {
    if (signal?.aborted) return clientGone(protocol)
    const next = nextCall(state.pool, await state.pool.candidates({ affinityKey }), tried, plan)
    if (!next) break
    tried.add(next.account.id)
    let result: Response | AttemptFailure | undefined
    try {
      result = await tryAccount(state, next.account, next.call, signal, record, next.hold)
    } finally {
      state.pool.release(next.account)
      // Counted already (which released it), or over uncounted; a stream's end releases its own.
      if (!(result instanceof Response && record.deferred)) next.hold.release()
    }
    if (result instanceof Response) {
      record.accountLabel = next.account.label
      record.accountId = next.account.id
      if (affinityKey && result.status < 400) state.pool.remember(affinityKey, next.account.id)
      return result
    }
    if (signal?.aborted) return clientGone(protocol)
    if (result.final) {
      record.accountLabel = next.account.label
      record.accountId = next.account.id
      record.note = `(${result.reason})`
      return protocol.error(result.final)
    }
    failures.push(result)
    state.metrics.failover(result.accountId)
    // Made one line with the whole record, after redaction (request-log.ts): an escape written
    // before it would glue a token to the word in front and hide it from the redaction patterns.
    record.failovers.push(`${result.label}: ${result.reason}`)
    if (result.transient && ++transient > state.settings.maxTransientRetries) break
  }
  const error = nothingUsable(await state.pool.accounts(), failures, state.settings.now(), state.pool.trialsUnderWay())
  state.onUnservable?.(error)
  return protocol.error(error)
}

/**
 * The next account to try, its call, and the hold that counts the request against the account's
 * limits while it is in flight; one whose trial another request holds, or that requests in
 * flight have brought to a limit, is left for later.
 */
function nextCall(pool: AccountPool, candidates: Account[], tried: Set<string>, plan: Plan): { account: Account; call: UpstreamCall; hold: InFlight } | undefined {
  for (const account of candidates) {
    if (tried.has(account.id)) continue
    const call = plan.callFor(account)
    if (!call) {
      tried.add(account.id)
      continue
    }
    const hold = pool.claim(account)
    if (hold) return { account, call, hold }
  }
  return undefined
}

/** Nobody reads it; it only ends the record. */
function clientGone(protocol: InboundProtocol): Response {
  return protocol.error(proxyError(499, 'the client closed the request', 'invalid_request_error', 'client_closed_request'))
}

/**
 * One account's go at a request: its credential, the request, one refresh-and-retry on a 401,
 * and the marks its failures earn (cooldown, not-served). Returns the client's response, or why
 * the next account should be tried.
 */
async function tryAccount(state: ProxyState, account: Account, call: UpstreamCall, signal: AbortSignal | undefined, record: RequestRecord, hold: InFlight): Promise<Response | AttemptFailure> {
  const { pool } = state
  const freshOptions = signal ? { signal } : {}
  let credential: Account
  try {
    credential = await credentialFor(state, account, freshOptions, account.accessToken)
  } catch (error) {
    return noCredential(state, account, error, signal)
  }
  let sent = await send(state, credential, call, signal, record, hold)
  if (!('response' in sent)) return sent

  if (sent.response.status === 401) {
    const refused = await readUpstreamError(state, sent)
    if (credential.kind !== 'qwen-oauth') {
      return markedFailure(state, credential, refused, keyRefusedMessage(credential.label, credential.provider), 'needs-login', hold)
    }
    try {
      credential = await credentialFor(state, account, { ...freshOptions, rejectedToken: credential.accessToken ?? '' }, credential.accessToken)
    } catch (error) {
      return noCredential(state, account, error, signal)
    }
    sent = await send(state, credential, call, signal, record, hold)
    if (!('response' in sent)) return sent
    if (sent.response.status === 401) {
      return markedFailure(state, credential, await readUpstreamError(state, sent), notServedMessage(credential.label), 'not-served', hold)
    }
  }

  const status = sent.response.status
  if (status === 429) return restAccount(state, credential, await readUpstreamError(state, sent), hold)
  if (status === 400 || status === 402 || status === 403 || status === 405) {
    // Read to tell a refusal of the account (it cannot pay) or of this client (the Coding Plan's
    // gate) from the client's own bad request; the latter is passed on as it came (redacted, as
    // every error is). One that never came whole says nothing: no answer yet, as a reset before
    // the head would be.
    const refused = await readUpstreamError(state, sent)
    if (refused.unread !== undefined) return failedBeforeFirstByte(state, credential, sent.exchange, refused.unread, hold)
    if (cannotPay(status, refused)) return restUnpaid(state, credential, status, refused, hold)
    if (credential.kind === 'api-key' && isClientGate(status, refused.message)) {
      const userAgent = upstreamHeaders(credential, call, state.settings)['user-agent']
      const reason = `refused this client (${describeClient(userAgent)}): ${refused.message}`
      countServed(state, credential, status, undefined, reason, hold)
      return { accountId: credential.id, label: credential.label, reason, transient: false, gate: { said: refused.message, userAgent } }
    }
    sent = { response: new Response(refused.text, { status, headers: sent.response.headers }), exchange: sent.exchange }
  }
  if (status >= 500) {
    const failed = await readUpstreamError(state, sent)
    const reason = `upstream error ${status} (${failed.message})`
    countServed(state, credential, status, undefined, reason, hold)
    return { accountId: credential.id, label: credential.label, reason, transient: true }
  }
  // Served: a cooldown that ran out is over for everyone now, not only for this trial request.
  if (sent.response.ok) pool.markServedAgain(credential)
  return deliver(state, credential, call, sent.response, sent.exchange, record, hold)
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

async function send(state: ProxyState, account: Account, call: UpstreamCall, signal: AbortSignal | undefined, record: RequestRecord, hold: InFlight): Promise<Sent | AttemptFailure> {
  const exchange = new UpstreamExchange(signal)
  try {
    record.upstreamSentAt = performance.now()
    const response = await sendUpstream(account, call, state.settings, exchange)
    record.upstreamHeadAt = performance.now()
    return { response, exchange }
  } catch (error) {
    exchange.finish()
    const reason = `could not reach the upstream: ${errorText(error)}`
    if (!exchange.clientGone) countServed(state, account, 502, undefined, reason, hold)
    return { accountId: account.id, label: account.label, reason, transient: true }
  }
}

function markedFailure(state: ProxyState, account: Account, refused: UpstreamError, message: string, status: 'not-served' | 'needs-login', hold: InFlight): AttemptFailure {
  countServed(state, account, 401, undefined, message, hold)
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
