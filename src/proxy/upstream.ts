import { qwenOAuthHeaders } from '../auth/oauth/constants.ts'
import { formatBytes } from '../lib/bytes.ts'
import { VERSION } from '../lib/version.ts'
import { upstreamModel } from '../pool/model-map.ts'
import { bearerOf, type Account } from '../store/account-model.ts'
import { apiBaseFromResourceUrl } from '../store/tokens.ts'
import type { BodyKind, UpstreamCall } from './protocols/protocol.ts'
import { untimedFetchOptions, upstreamFetchSlots } from './runtime-fetch.ts'

export interface UpstreamSettings {
  connectTimeoutMs: number
  idleTimeoutMs: number
  userAgent: string
  outputLimits: Record<string, number>
  /** The server's model map (`--model-map`, QWENAUTH_MODEL_MAP). */
  modelMap: Record<string, string>
}

/** `path` (and a query) below the account's OpenAI-compatible base URL. */
export function accountUrl(account: Account, path: string, search = ''): string {
  const base = (account.baseUrl || apiBaseFromResourceUrl(account.resourceUrl)).replace(/\/+$/, '')
  return `${base}${path}${search}`
}

/**
 * Bearer credential; for Qwen OAuth the DashScope headers the official CLI sends
 * (docs/qwen-protocol.md §5); for a key account the client's own User-Agent (qwenauth is a
 * transparent hop, and the Coding Plan serves coding agents only), unless the account's owner
 * fixed one. qwenauth names itself only when the client sent none.
 */
export function upstreamHeaders(account: Account, call: UpstreamCall, settings: UpstreamSettings): Record<string, string> {
  const credential = bearerOf(account)
  const headers: Record<string, string> = {
    ...call.headers,
    authorization: `Bearer ${credential}`,
    accept: call.accept ?? (call.stream ? 'text/event-stream' : 'application/json'),
  }
  if (call.body) headers['content-type'] = 'application/json'
  if (call.apiKeyHeader) headers[call.apiKeyHeader] = credential
  if (account.kind === 'qwen-oauth') Object.assign(headers, qwenOAuthHeaders(settings.userAgent))
  else headers['user-agent'] = account.userAgent ?? call.clientUserAgent ?? `qwenauth/${VERSION}`
  return headers
}

/** The fields that cap an answer's length, by the kind of body. */
const OUTPUT_FIELDS: Record<BodyKind, readonly string[]> = {
  chat: ['max_tokens', 'max_completion_tokens', 'max_output_tokens'],
  completions: ['max_tokens'],
  embeddings: [],
  messages: ['max_tokens'],
  responses: ['max_output_tokens'],
  none: [],
}

/**
 * The body for this account: the model renamed (`coder-model` → the provider's name) and output
 * limits capped, so clients with large defaults are not refused. Untouched bodies go out byte
 * for byte, unknown fields included.
 */
export function upstreamBody(account: Account, call: UpstreamCall, limits: Record<string, number>, modelMap?: Record<string, string>): string | undefined {
  if (!call.body) return undefined
  const { json, text } = call.body
  const requested = typeof json.model === 'string' && json.model !== '' ? json.model : undefined
  const patch: Record<string, unknown> = {}
  let model = requested
  // Embeddings name their own models; a chat default would be wrong there.
  if (call.bodyKind !== 'embeddings' || requested) {
    model = upstreamModel(account, requested, modelMap)
    if (model !== json.model) patch.model = model
  }
  const limit = (model && limits[model]) || (requested && limits[requested]) || undefined
  if (limit) {
    for (const field of OUTPUT_FIELDS[call.bodyKind]) {
      const value = json[field]
      if (typeof value === 'number' && value > limit) patch[field] = limit
    }
  }
  return Object.keys(patch).length > 0 ? JSON.stringify({ ...json, ...patch }) : text
}

/**
 * Sends one request. Past the process's limit of upstream requests it first waits for a place
 * (see runtime-fetch.ts); the timers start once it is sent, and they alone apply: the runtime's
 * own fetch timers are off.
 */
export async function sendUpstream(account: Account, call: UpstreamCall, settings: UpstreamSettings, exchange: UpstreamExchange): Promise<Response> {
  const body = upstreamBody(account, call, settings.outputLimits, settings.modelMap)
  try {
    exchange.onFinish(await upstreamFetchSlots().acquire(exchange.signal))
  } catch (error) {
    throw exchange.cause(error)
  }
  // A non-streaming answer sends its head only once the whole answer is generated.
  const waitsForHead = call.stream || call.method === 'GET'
  exchange.arm(waitsForHead ? settings.connectTimeoutMs : settings.idleTimeoutMs, 'the upstream did not answer in time')
  try {
    const response = await fetch(call.url, {
      method: call.method,
      headers: upstreamHeaders(account, call, settings),
      ...(body === undefined ? {} : { body }),
      signal: exchange.signal,
      redirect: 'manual',
      ...untimedFetchOptions(),
    } as RequestInit)
    exchange.arm(settings.idleTimeoutMs, 'the upstream went silent')
    return response
  } catch (error) {
    throw exchange.cause(error)
  }
}

/** A declared body this small is read in one call: it arrives with its head, chunk timing does not matter. */
const SMALL_BODY = 64 * 1024

/** An upstream answer larger than qwenauth holds for one request. */
export class AnswerTooLarge extends Error {
  override readonly name = 'AnswerTooLarge'
}

/**
 * Reads a whole answer, re-arming the idle timeout on every chunk. Past `maxBytes` the upstream
 * request is aborted and AnswerTooLarge thrown: nothing more is read or held.
 */
export async function readAll(response: Response, exchange: UpstreamExchange, idleTimeoutMs: number, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0)
  const declared = response.headers.get('content-length')
  if (declared !== null && Number(declared) <= Math.min(SMALL_BODY, maxBytes)) {
    try {
      return new Uint8Array(await response.arrayBuffer())
    } catch (error) {
      throw exchange.cause(error)
    }
  }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        const tooLarge = new AnswerTooLarge(`the answer is over the ${formatBytes(maxBytes)} limit (QWENAUTH_MAX_ANSWER_BYTES)`)
        exchange.abort(tooLarge)
        reader.cancel(tooLarge).catch(() => {})
        throw tooLarge
      }
      chunks.push(value)
      exchange.arm(idleTimeoutMs, 'the upstream went silent')
    }
  } catch (error) {
    throw exchange.cause(error)
  }
  return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks)
}

const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  // fetch already decoded the body; its length and encoding no longer apply.
  'content-encoding',
  'content-length',
  'te',
  'trailer',
  'upgrade',
  'set-cookie',
  'date',
  'server',
])

/**
 * The upstream's headers the client may see. CORS headers never pass: an upstream's
 * `Access-Control-Allow-Origin: *` would let any web page read what the proxy answers.
 */
export function passthroughHeaders(upstream: Headers): Headers {
  const headers = new Headers()
  for (const [name, value] of upstream) {
    if (!DROPPED_RESPONSE_HEADERS.has(name) && !name.startsWith('access-control-')) headers.append(name, value)
  }
  return headers
}

/** The upstream went silent for longer than a timeout allows. */
export class UpstreamTimeout extends Error {
  override readonly name = 'UpstreamTimeout'
}

/**
 * One request to one account, with its own abort: the client leaving aborts it, and so does a
 * timeout that is re-armed whenever the upstream shows life.
 */
export class UpstreamExchange {
  private readonly controller = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly unlink: () => void
  private readonly finishers: Array<() => void> = []
  /** The client left: failures after this are not the account's fault. */
  clientGone = false

  constructor(clientSignal: AbortSignal | undefined) {
    const onClientGone = () => {
      this.clientGone = true
      this.controller.abort(clientSignal?.reason ?? new DOMException('client went away', 'AbortError'))
    }
    if (clientSignal?.aborted) onClientGone()
    clientSignal?.addEventListener('abort', onClientGone, { once: true })
    this.unlink = () => clientSignal?.removeEventListener('abort', onClientGone)
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  arm(ms: number, what: string): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.controller.abort(new UpstreamTimeout(`${what} (${Math.round(ms / 1000)} s)`)), ms)
  }

  abort(reason?: unknown): void {
    this.controller.abort(reason)
    this.finish()
  }

  /** Stops the timeout, still listening for the client: nothing is being waited for. */
  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Runs `release` once, when the exchange is over (its place among the upstream requests). */
  onFinish(release: () => void): void {
    this.finishers.push(release)
  }

  finish(): void {
    this.disarm()
    this.unlink()
    for (const release of this.finishers.splice(0)) release()
  }

  /** What a failed read or fetch really failed on: our timeout or the client, when either fired. */
  cause(error: unknown): unknown {
    return this.controller.signal.aborted ? this.controller.signal.reason : error
  }
}
