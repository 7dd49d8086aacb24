import { redact } from '../lib/redact.ts'
import type { Account } from '../store/account-model.ts'
import type { RequestRecord } from './request-log.ts'
import { relaySse, type RelayEnd } from './sse.ts'
import type { AttemptFailure, ProxyState } from './state.ts'
import { errorText } from './state.ts'
import type { UpstreamExchange } from './exchange.ts'
import { passthroughHeaders, readAll } from './upstream.ts'
import { findUsage } from './usage.ts'

/**
 * Turns an upstream answer the client should get (2xx, or a 4xx about the request itself) into
 * the client's response. Until the first byte of it is in hand the attempt can still fail over;
 * after that, a stream that breaks ends with an error event instead.
 */
export async function deliver(
  state: ProxyState,
  account: Account,
  upstream: Response,
  exchange: UpstreamExchange,
  record: RequestRecord,
): Promise<Response | AttemptFailure> {
  const { idleTimeoutMs } = state.settings
  const headers = passthroughHeaders(upstream.headers)
  const isStream = upstream.ok && (upstream.headers.get('content-type') ?? '').includes('text/event-stream')

  if (!isStream) {
    let bytes: Uint8Array
    try {
      bytes = await readAll(upstream, exchange, idleTimeoutMs)
    } catch (error) {
      exchange.finish()
      return failedBeforeFirstByte(state, account, exchange, error)
    }
    exchange.finish()
    if (!upstream.ok) bytes = redactedError(bytes)
    const usage = upstream.ok ? findUsage(tailText(bytes)) : undefined
    countServed(state, account, upstream.status, usage, upstream.ok ? undefined : `${upstream.status} ${tailText(bytes).slice(0, 200)}`)
    record.usage = usage
    return new Response(bytes.byteLength > 0 ? (bytes as Uint8Array<ArrayBuffer>) : null, { status: upstream.status, headers })
  }

  const reader = (upstream.body as ReadableStream<Uint8Array>).getReader()
  let first: ReadableStreamReadResult<Uint8Array>
  try {
    first = await reader.read()
  } catch (error) {
    exchange.finish()
    return failedBeforeFirstByte(state, account, exchange, error)
  }
  if (first.done) {
    exchange.finish()
    return failedBeforeFirstByte(state, account, exchange, new Error('the upstream ended the stream before its first event'))
  }
  // The idle timeout runs only while the relay waits on the upstream: a client that reads
  // slowly is no silence of the upstream (and aborting a fetch whose body is already in hand
  // leaves its reader hanging forever under Node's undici).
  exchange.disarm()

  record.deferred = true
  const stream = relaySse(reader, first.value, {
    onWaiting: () => exchange.arm(idleTimeoutMs, 'the upstream went silent'),
    onActivity: () => exchange.disarm(),
    abortUpstream: (reason) => exchange.abort(reason),
    failureMessage: (error) =>
      `the upstream stream of account ${account.label} broke after it started (${errorText(exchange.cause(error))}); the answer is incomplete, retry the request`,
    onEnd: (end) => finishStream(state, account, exchange, record, end),
  })
  headers.set('cache-control', 'no-cache')
  headers.set('x-accel-buffering', 'no')
  return new Response(stream, { status: upstream.status, headers })
}

function finishStream(state: ProxyState, account: Account, exchange: UpstreamExchange, record: RequestRecord, end: RelayEnd): void {
  exchange.finish()
  record.usage = end.usage
  if (end.kind === 'failed') {
    const reason = `stream broke: ${errorText(exchange.cause(end.error))}`
    countServed(state, account, 502, end.usage, reason)
    return record.end(200, `(${reason})`)
  }
  countServed(state, account, 200, end.usage)
  record.end(end.kind === 'cancelled' ? 'client-closed' : 200)
}

function failedBeforeFirstByte(state: ProxyState, account: Account, exchange: UpstreamExchange, error: unknown): AttemptFailure {
  const reason = `failed before answering: ${errorText(exchange.cause(error))}`
  if (!exchange.clientGone) countServed(state, account, 502, undefined, reason)
  return { accountId: account.id, label: account.label, reason, transient: true }
}

export function countServed(state: ProxyState, account: Account, status: number, usage?: { promptTokens: number; completionTokens: number }, error?: string): void {
  const now = state.settings.now()
  const failed = status >= 400
  state.stats.add(account.id, {
    requests: 1,
    failures: failed ? 1 : 0,
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    lastUsedAt: now,
    ...(failed && error ? { lastError: { message: error, at: now } } : {}),
  })
  if (!failed) state.pool.markServedAgain(account)
}

/** Usage sits at the end of an answer; decoding a whole large answer for it would waste time. */
function tailText(bytes: Uint8Array): string {
  const start = Math.max(0, bytes.byteLength - 4096)
  return new TextDecoder().decode(start === 0 ? bytes : bytes.subarray(start))
}

/** Some upstreams echo the request's credential in an error; the client never gets to see it. */
function redactedError(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes)
  const clean = redact(text)
  return clean === text ? bytes : new TextEncoder().encode(clean)
}
