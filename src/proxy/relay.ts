import { errorText } from '../lib/errors.ts'
import { redact } from '../lib/redact.ts'
import { quotaClock } from '../pool/limits.ts'
import type { InFlight } from '../pool/pool.ts'
import type { Account } from '../store/account-model.ts'
import { usageDelta } from '../store/usage-windows.ts'
import type { AttemptFailure } from './failover.ts'
import { proxyError, type UpstreamCall, type UsageFormat } from './protocols/protocol.ts'
import type { RequestRecord } from './request-log.ts'
import { relaySse, type RelayEnd } from './sse.ts'
import { EventTooLarge } from './sse-framing.ts'
import type { ProxyState } from './state.ts'
import { AnswerTooLarge, passthroughHeaders, readAll, type UpstreamExchange } from './upstream.ts'

export interface Usage {
  promptTokens: number
  completionTokens: number
}

/**
 * Turns an upstream answer the client should get (2xx, or a 4xx about the request itself) into
 * the client's response, in the client's protocol (`call.render`), and counts it. Until the
 * first byte of it is in hand the attempt can still fail over; after that, a stream that breaks
 * ends with an error event instead.
 */
export async function deliver(
  state: ProxyState,
  account: Account,
  call: UpstreamCall,
  upstream: Response,
  exchange: UpstreamExchange,
  record: RequestRecord,
  hold: InFlight,
): Promise<Response | AttemptFailure> {
  const { idleTimeoutMs, maxAnswerBytes, maxEventBytes } = state.settings
  const headers = passthroughHeaders(upstream.headers)
  const isStream = upstream.ok && (upstream.headers.get('content-type') ?? '').includes('text/event-stream')

  if (!isStream) {
    let bytes: Uint8Array
    try {
      bytes = await readAll(upstream, exchange, idleTimeoutMs, maxAnswerBytes)
    } catch (error) {
      exchange.finish()
      if (error instanceof AnswerTooLarge) return tooLargeToPass(state, account, error, hold)
      return failedBeforeFirstByte(state, account, exchange, error, hold)
    }
    exchange.finish()
    // A JSON answer comes whole after its head: the head is its first byte.
    state.metrics.upstreamAnswer(account.id, record.upstreamHeadAt - record.upstreamSentAt, performance.now() - record.upstreamSentAt)
    if (!upstream.ok) bytes = redactedError(bytes)
    const usage = upstream.ok ? findUsage(tailText(bytes), call.usage) : undefined
    countServed(state, account, upstream.status, usage, upstream.ok ? undefined : `${upstream.status} ${tailText(bytes).slice(0, 200)}`, hold)
    record.usage = usage
    // The length is stated: the server writes a large whole answer as the client reads it (server.ts).
    if (!call.render.whole) {
      headers.set('content-length', String(bytes.byteLength))
      return new Response(bytes.byteLength > 0 ? (bytes as Uint8Array<ArrayBuffer>) : null, { status: upstream.status, headers })
    }
    const rendered = call.render.whole(upstream.status, bytes)
    headers.set('content-type', rendered.contentType)
    headers.set('content-length', String(typeof rendered.body === 'string' ? Buffer.byteLength(rendered.body) : rendered.body.byteLength))
    return new Response(rendered.body as BodyInit, { status: rendered.status, headers })
  }

  const reader = (upstream.body as ReadableStream<Uint8Array>).getReader()
  let first: ReadableStreamReadResult<Uint8Array>
  try {
    first = await reader.read()
  } catch (error) {
    exchange.finish()
    return failedBeforeFirstByte(state, account, exchange, error, hold)
  }
  if (first.done) {
    exchange.finish()
    return failedBeforeFirstByte(state, account, exchange, new Error('the upstream ended the stream before its first event'), hold)
  }
  const firstByteMs = performance.now() - record.upstreamSentAt
  // The idle timeout runs only while the relay waits on the upstream: a client that reads
  // slowly is no silence of the upstream (and aborting a fetch whose body is already in hand
  // leaves its reader hanging forever under Node's undici).
  exchange.disarm()

  // From here the stream's end counts the request and releases its hold (the failover leaves it).
  record.deferred = true
  let usage: Usage | undefined
  const translator = call.render.stream?.()
  const stream = relaySse(reader, first.value, {
    onWaiting: () => exchange.arm(idleTimeoutMs, 'the upstream went silent'),
    onActivity: () => exchange.disarm(),
    onEvents: (text) => {
      if (text.includes('"usage"') || text.includes('_tokens"')) usage = mergeUsage(usage, findEventsUsage(text, call.usage))
    },
    abortUpstream: (reason) => exchange.abort(reason),
    failureEvent: (error) => {
      const cause = exchange.cause(error)
      return call.render.streamFailure(
        cause instanceof EventTooLarge || cause instanceof AnswerTooLarge
          ? `the upstream stream of account ${account.label} was cut: ${cause.message}; the answer is incomplete`
          : `the upstream stream of account ${account.label} broke after it started (${errorText(cause)}); the answer is incomplete, retry the request`,
      )
    },
    onEnd: (end) => {
      state.metrics.upstreamAnswer(account.id, firstByteMs, performance.now() - record.upstreamSentAt)
      finishStream(state, account, exchange, record, end, usage, hold)
    },
    maxEventBytes,
    ...(translator ? { translator, keepAliveMs: state.settings.keepAliveMs } : {}),
  })
  // A filter leaves the provider's bytes, and so its content type, as they were.
  if (translator?.event) headers.set('content-type', 'text/event-stream; charset=utf-8')
  headers.set('cache-control', 'no-cache')
  headers.set('x-accel-buffering', 'no')
  return new Response(stream, { status: upstream.status, headers })
}

function finishStream(state: ProxyState, account: Account, exchange: UpstreamExchange, record: RequestRecord, end: RelayEnd, usage: Usage | undefined, hold: InFlight): void {
  exchange.finish()
  record.usage = usage
  if (end.kind === 'failed') {
    const reason = `stream broke: ${errorText(exchange.cause(end.error))}`
    // The provider began the answer: it counts against the quota, tokens known or not.
    countServed(state, account, 502, usage ?? { promptTokens: 0, completionTokens: 0 }, reason, hold)
    return record.end(200, `(${reason})`)
  }
  countServed(state, account, 200, usage, undefined, hold)
  record.end(end.kind === 'cancelled' ? 'client-closed' : 200)
}

/**
 * An answer past the limit: the upstream is already aborted, and another account would send as
 * much, so the client is told at once (in its protocol's shape, by the failover core).
 */
function tooLargeToPass(state: ProxyState, account: Account, error: AnswerTooLarge, hold: InFlight): AttemptFailure {
  const reason = `answer not passed on: ${error.message}`
  countServed(state, account, 502, undefined, reason, hold)
  const message = `the upstream answer of account ${account.label} was not passed on: ${error.message}; ask for a shorter answer, or raise the limit`
  return { accountId: account.id, label: account.label, reason, transient: false, final: proxyError(502, message, 'server_error', 'upstream_answer_too_large') }
}

export function failedBeforeFirstByte(state: ProxyState, account: Account, exchange: UpstreamExchange, error: unknown, hold: InFlight): AttemptFailure {
  const reason = `failed before answering: ${errorText(exchange.cause(error))}`
  if (!exchange.clientGone) countServed(state, account, 502, undefined, reason, hold)
  return { accountId: account.id, label: account.label, reason, transient: true }
}

/**
 * One request's outcome in the account's counters. What the provider served (an answer, or a
 * stream that broke after it began: both count against its quota) also goes into the usage
 * windows, by the account's plan calendar. The request's in-flight hold (`hold`, taken when it
 * was dispatched) ends in the same turn, so the request is never counted twice or not at all.
 */
export function countServed(state: ProxyState, account: Account, status: number, usage?: Usage, error?: string, hold?: InFlight): void {
  const now = state.settings.now()
  const failed = status >= 400
  const tokens = (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0)
  const served = !failed || usage !== undefined
  state.stats.add(account.id, {
    requests: 1,
    failures: failed ? 1 : 0,
    promptTokens: usage?.promptTokens ?? 0,
    completionTokens: usage?.completionTokens ?? 0,
    lastUsedAt: now,
    ...(failed && error ? { lastError: { message: error, at: now } } : {}),
    ...(served ? { usage: usageDelta(quotaClock(account), now, tokens) } : {}),
  })
  hold?.release()
}

const USAGE_FIELDS: Record<UsageFormat, [prompt: RegExp, completion: RegExp]> = {
  openai: [/"prompt_tokens"\s*:\s*(\d+)/, /"completion_tokens"\s*:\s*(\d+)/],
  anthropic: [/"input_tokens"\s*:\s*(\d+)/, /"output_tokens"\s*:\s*(\d+)/],
  responses: [/"input_tokens"\s*:\s*(\d+)/, /"output_tokens"\s*:\s*(\d+)/],
}

/**
 * The token counts of the last `usage` object in a JSON answer. A regex over the text after the
 * last `"usage"` instead of a full parse: answers can be megabytes, and `"usage"` inside
 * generated text is escaped (`\"usage\"`), so it cannot match.
 */
export function findUsage(text: string, format: UsageFormat = 'openai'): Usage | undefined {
  const at = text.lastIndexOf('"usage"')
  return at === -1 ? undefined : usageAt(text.slice(at, at + 1000), format)
}

/**
 * Every `usage` in a run of SSE events, merged in order: one read may hold several events, and
 * Anthropic's stream puts the input count in `message_start`, the output count in `message_delta`.
 * Each is read only up to the end of its own event.
 */
export function findEventsUsage(text: string, format: UsageFormat): Usage | undefined {
  let usage: Usage | undefined
  for (let at = text.indexOf('"usage"'); at !== -1; at = text.indexOf('"usage"', at + 7)) {
    const eventEnd = text.indexOf('\n\n', at)
    usage = mergeUsage(usage, usageAt(text.slice(at, Math.min(at + 1000, eventEnd === -1 ? text.length : eventEnd)), format))
  }
  return usage
}

/**
 * Anthropic counts the prompt in three parts, the cache's apart: the prompt is their sum, as a
 * chat API's `prompt_tokens` (cached tokens included) and a Responses `input_tokens` are.
 */
const ANTHROPIC_CACHE_FIELDS = [/"cache_creation_input_tokens"\s*:\s*(\d+)/, /"cache_read_input_tokens"\s*:\s*(\d+)/]

function usageAt(rest: string, format: UsageFormat): Usage | undefined {
  if (/^"usage"\s*:\s*null/.test(rest)) return undefined
  const [promptField, completionField] = USAGE_FIELDS[format]
  const prompt = promptField.exec(rest)
  const completion = completionField.exec(rest)
  const cached = format === 'anthropic' ? ANTHROPIC_CACHE_FIELDS.map((field) => field.exec(rest)) : []
  if (!prompt && !completion && !cached.some(Boolean)) return undefined
  const promptTokens = cached.reduce((sum, match) => sum + Number(match?.[1] ?? 0), Number(prompt?.[1] ?? 0))
  return { promptTokens, completionTokens: Number(completion?.[1] ?? 0) }
}

/**
 * Streams may report input and output counts in different events (Anthropic), and a later event
 * may repeat a count with fewer of its parts (message_delta's `input_tokens` without the cache's
 * fields). The counts are cumulative, so the largest each said is the count.
 */
function mergeUsage(before: Usage | undefined, next: Usage | undefined): Usage | undefined {
  if (!next || !before) return next ?? before
  return { promptTokens: Math.max(next.promptTokens, before.promptTokens), completionTokens: Math.max(next.completionTokens, before.completionTokens) }
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
