import { createHash } from 'node:crypto'
import type { Context } from '../../context.ts'
import type { Account } from '../../store/account-model.ts'
import type { JsonBody } from '../body.ts'
import type { ResolvedProxyOptions } from '../options.ts'

/**
 * The seam between an inbound protocol (what the client speaks: OpenAI chat completions,
 * Anthropic Messages, OpenAI Responses) and the failover core (which accounts, in what order,
 * with which credential, and what their failures mean). A protocol turns the client's request
 * into one upstream call per account (translated to chat completions, or native where the
 * account's provider speaks the client's protocol) and says how the answer goes back; the core
 * never looks inside either. Adding a protocol adds a file here and a line in routes.ts.
 */
export interface InboundProtocol {
  /** An answer qwenauth makes itself (bad input, no account can serve), in this protocol's shape. */
  error(error: ProxyError): Response
  /**
   * What to send for this request, or why it cannot be sent (answered with `error`), or the
   * answer itself when no upstream is needed (Anthropic's count_tokens, a kept Responses answer). Async where it reads
   * state kept across requests.
   */
  plan(request: InboundRequest): Plan | ProxyError | Response | Promise<Plan | ProxyError | Response>
}

/** What the app lends its protocols: its store, settings, and state that outlives one request. */
export interface AppServices {
  /** The store (a directory, or Redis through `ctx.redis`, shared by every instance). */
  ctx: Context
  settings: ResolvedProxyOptions
  /** One value per app and key, made on first use: state a protocol keeps across requests. */
  shared<T>(key: string, make: () => T): T
}

export interface InboundRequest {
  /** The path as routed (`/v1/chat/completions`). */
  path: string
  /** The client's query string, `?…` or empty. */
  search: string
  /** The JSON body of a POST; undefined for GET. */
  body: JsonBody | undefined
  headers: Headers
  app: AppServices
}

export interface Plan {
  /** The call for this account, or undefined when it cannot serve this kind of request at all. */
  callFor(account: Account): UpstreamCall | undefined
  /**
   * What names the conversation this request belongs to (`prompt_cache_key`, or a hash of its
   * first messages), for `--affinity`: its requests go to the account that served it before,
   * whose prompt cache holds its context. Undefined when the protocol cannot tell.
   */
  affinityKey?: string
}

/** What a request body is, for the per-account rewrite (model names, output caps) in upstream.ts. */
export type BodyKind = 'chat' | 'completions' | 'embeddings' | 'messages' | 'responses' | 'none'

/** Where token counts sit in an answer. */
export type UsageFormat = 'openai' | 'anthropic' | 'responses'

/** One request to one account's API. The credential and per-account rewrites are added by the core. */
export interface UpstreamCall {
  method: 'GET' | 'POST'
  /** The full URL, query included. */
  url: string
  body: JsonBody | undefined
  bodyKind: BodyKind
  stream: boolean
  accept: string | null
  /** Headers of the protocol's own (`anthropic-version`, …), beside the credential and provider headers. */
  headers?: Record<string, string>
  /** A header that carries the credential too, besides `Authorization: Bearer` (Anthropic's `x-api-key`). */
  apiKeyHeader?: string
  /** The client's User-Agent, which key accounts get (set by the core from the inbound request, see client-identity.ts). */
  clientUserAgent?: string
  usage: UsageFormat
  /** How the answer goes back to the client. */
  render: Renderer
}

export interface Renderer {
  /**
   * A whole answer (a JSON body, or a 4xx about the request itself) as the client gets it;
   * absent, it goes out byte for byte.
   */
  whole?(status: number, bytes: Uint8Array): { status: number; body: string | Uint8Array; contentType: string }
  /** A translator for a streamed answer, one per request; absent, events go out unchanged. */
  stream?(): StreamTranslator
  /** The text of the event that ends a stream the upstream broke after it started. */
  streamFailure(message: string): string
}

export interface StreamTranslator {
  /**
   * The `data:` payload of one complete upstream event → whole client events (possibly none).
   * Absent, `filter` has the events.
   */
  event?(data: string): string
  /**
   * Whole upstream events, as their text came → the ones the client gets, as they came: for a
   * stream that is the client's own protocol but for an event to hold back. What it returns
   * unchanged goes out as the very bytes that arrived.
   */
  filter?(events: string): string
  /** The upstream finished: whatever the client is still owed. */
  end(): string
  /** The upstream broke after the stream started: the closing error in this protocol's shape. */
  failure?(message: string): string
  /** Sent while the upstream is silent (Anthropic's `ping`), at most every `keepAliveMs`. */
  keepAlive?(): string
  /**
   * The client's answer is complete before the upstream's is (a stop sequence matched): the
   * relay then ends the client's stream and cancels the upstream request.
   */
  finished?(): boolean
}

/** OpenAI's error types, which the other protocols map onto their own. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'

/** An answer qwenauth makes up itself, before a protocol gives it its shape. */
export interface ProxyError {
  status: number
  message: string
  type: ErrorType
  code: string
  headers?: Record<string, string>
}

export function proxyError(status: number, message: string, type: ErrorType, code: string, headers?: Record<string, string>): ProxyError {
  return { status, message, type, code, ...(headers ? { headers } : {}) }
}

export function isProxyError(value: unknown): value is ProxyError {
  return typeof value === 'object' && value !== null && 'status' in value && 'code' in value && 'message' in value && !('callFor' in value)
}

/**
 * A conversation's affinity key: the client's own cache key when it sends one, else a hash of
 * the messages that open the conversation (they stay the same on every turn of it).
 */
export function conversationKey(cacheKey: unknown, opening: readonly unknown[]): string | undefined {
  if (typeof cacheKey === 'string' && cacheKey !== '') return `key:${cacheKey}`
  if (opening.length === 0) return undefined
  return `hash:${createHash('sha256').update(JSON.stringify(opening)).digest('base64url').slice(0, 32)}`
}

/**
 * The affinity key of a chat-completions body: `prompt_cache_key`, else its system and developer
 * messages up to and with the first user message. The Anthropic and Responses protocols key
 * their translated chat body the same way (Claude Code's `cache_control` marks, which move from
 * turn to turn, are gone from it).
 */
export function chatConversationKey(body: Record<string, unknown> | undefined): string | undefined {
  const messages = Array.isArray(body?.messages) ? (body.messages as unknown[]) : []
  const firstUser = messages.findIndex((m) => (m as { role?: unknown } | null)?.role === 'user')
  return conversationKey(body?.prompt_cache_key, messages.slice(0, firstUser + 1))
}
