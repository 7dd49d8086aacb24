import { upstreamModel } from '../pool/model-map.ts'
import { apiBaseFromResourceUrl } from '../auth/oauth/constants.ts'
import { VERSION } from '../lib/version.ts'
import { bearerOf } from '../pool/fresh-account.ts'
import type { Account } from '../store/account-model.ts'
import type { JsonBody } from './body.ts'
import type { UpstreamExchange } from './exchange.ts'
import type { Route } from './routes.ts'

/** What the client asked for, independent of the account that will serve it. */
export interface UpstreamCall {
  route: Route
  /** The client's query string, `?…` or empty. */
  search: string
  body: JsonBody | undefined
  stream: boolean
  accept: string | null
}

export interface UpstreamSettings {
  connectTimeoutMs: number
  idleTimeoutMs: number
  userAgent: string
  outputLimits: Record<string, number>
}

export function upstreamUrl(account: Account, call: UpstreamCall): string {
  const base = (account.baseUrl || apiBaseFromResourceUrl(account.resourceUrl)).replace(/\/+$/, '')
  return `${base}${call.route.upstreamPath ?? ''}${call.search}`
}

/** Bearer credential, and for Qwen OAuth the DashScope headers the official CLI sends (protocol page §5). */
export function upstreamHeaders(account: Account, call: UpstreamCall, settings: UpstreamSettings): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${bearerOf(account)}`,
    accept: call.accept ?? (call.stream ? 'text/event-stream' : 'application/json'),
  }
  if (call.body) headers['content-type'] = 'application/json'
  if (account.kind === 'qwen-oauth') {
    headers['user-agent'] = settings.userAgent
    headers['x-dashscope-useragent'] = settings.userAgent
    headers['x-dashscope-cachecontrol'] = 'enable'
    headers['x-dashscope-authtype'] = 'qwen-oauth'
  } else {
    headers['user-agent'] = `qwenauth/${VERSION}`
  }
  return headers
}

const OUTPUT_FIELDS = ['max_tokens', 'max_completion_tokens'] as const

/**
 * The body for this account: the model renamed for key accounts (`coder-model` → the provider's
 * name) and output limits capped, so clients with large defaults are not refused. Untouched
 * bodies go out byte for byte, unknown fields included.
 */
export function upstreamBody(account: Account, call: UpstreamCall, limits: Record<string, number>): string | undefined {
  if (!call.body) return undefined
  const { json, text } = call.body
  const requested = typeof json.model === 'string' && json.model !== '' ? json.model : undefined
  const patch: Record<string, unknown> = {}
  let model = requested
  // Embeddings name their own models; a chat default would be wrong there.
  if (call.route.kind !== 'embeddings' || requested) {
    model = upstreamModel(account, requested)
    if (model !== json.model) patch.model = model
  }
  if (call.route.kind === 'chat' || call.route.kind === 'completions') {
    const limit = (model && limits[model]) || (requested && limits[requested]) || undefined
    for (const field of OUTPUT_FIELDS) {
      const value = json[field]
      if (limit && typeof value === 'number' && value > limit) patch[field] = limit
    }
  }
  return Object.keys(patch).length > 0 ? JSON.stringify({ ...json, ...patch }) : text
}

export async function sendUpstream(
  account: Account,
  call: UpstreamCall,
  settings: UpstreamSettings,
  exchange: UpstreamExchange,
): Promise<Response> {
  // A non-streaming answer sends its head only once the whole answer is generated.
  const waitsForHead = call.stream || call.route.method === 'GET'
  exchange.arm(waitsForHead ? settings.connectTimeoutMs : settings.idleTimeoutMs, 'the upstream did not answer in time')
  const body = upstreamBody(account, call, settings.outputLimits)
  try {
    const response = await fetch(upstreamUrl(account, call), {
      method: call.route.method,
      headers: upstreamHeaders(account, call, settings),
      ...(body === undefined ? {} : { body }),
      signal: exchange.signal,
      redirect: 'manual',
    })
    exchange.arm(settings.idleTimeoutMs, 'the upstream went silent')
    return response
  } catch (error) {
    throw exchange.cause(error)
  }
}

/** Reads a whole answer, re-arming the idle timeout on every chunk. */
export async function readAll(response: Response, exchange: UpstreamExchange, idleTimeoutMs: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
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
