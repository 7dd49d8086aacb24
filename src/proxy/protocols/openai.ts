import { takesStreamUsage } from '../../auth/api-key/providers.ts'
import type { JsonBody } from '../body.ts'
import { eventBlocks, eventData } from '../sse-framing.ts'
import { accountUrl } from '../upstream.ts'
import { chatConversationKey, type BodyKind, type InboundProtocol, type ProxyError, type Renderer, type StreamTranslator } from './protocol.ts'

/**
 * OpenAI's own API (chat completions, completions, embeddings, models): every account speaks it,
 * so requests pass through as they are (the core renames the model and caps output per account)
 * and answers come back byte for byte. Errors qwenauth makes itself have OpenAI's shape,
 * `{"error":{"message","type","code"}}`, so SDKs show the message.
 */
export function openaiPassthrough(upstreamPath: string, bodyKind: BodyKind): InboundProtocol {
  return {
    error: openaiErrorResponse,
    plan(request) {
      const stream = request.body?.json.stream === true
      const accept = request.headers.get('accept')
      // A chat stream the client asked no usage of reports no tokens, and the account's counters
      // and token limits would miss them: asked for on its behalf where the provider takes it.
      const unasked = bodyKind === 'chat' && stream && request.body && !asksForUsage(request.body.json) ? request.body : undefined
      let bodyAskingUsage: JsonBody | undefined
      // Hashed only when asked for (`--affinity`): the hash cost more than the rest of the plan.
      let affinityKey: string | undefined | null = null
      return {
        get affinityKey() {
          if (affinityKey === null) affinityKey = bodyKind === 'chat' ? chatConversationKey(request.body?.json) : undefined
          return affinityKey
        },
        callFor: (account) => {
          const onBehalf = unasked !== undefined && takesStreamUsage(account.provider)
          if (onBehalf) bodyAskingUsage ??= withUsageAsked(unasked)
          return {
            method: request.body ? 'POST' : 'GET',
            url: accountUrl(account, upstreamPath, request.search),
            body: onBehalf ? bodyAskingUsage : request.body,
            bodyKind,
            stream,
            accept,
            usage: 'openai',
            render: onBehalf ? USAGE_ASKED_ON_BEHALF : PASSTHROUGH,
          }
        },
      }
    },
  }
}

const PASSTHROUGH: Renderer = { streamFailure: (message) => openaiStreamError(message) }

function asksForUsage(json: Record<string, unknown>): boolean {
  const options = json.stream_options
  return typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true
}

/** The client's body with `stream_options.include_usage` on, whatever else its stream_options say kept. */
function withUsageAsked(body: JsonBody): JsonBody {
  const options = body.json.stream_options
  const json = { ...body.json, stream_options: { ...(typeof options === 'object' && options !== null ? options : {}), include_usage: true } }
  return { json, text: JSON.stringify(json) }
}

/** A chunk with no choices and the usage: the one `include_usage` adds at a stream's end. */
const NO_CHOICES = /"choices"\s*:\s*\[\s*\]/

/**
 * The stream as the provider sent it, byte for byte (comments such as OpenRouter's keep-alive
 * `: OPENROUTER PROCESSING` included), but for the usage chunk asked for on the client's behalf,
 * which a client that did not ask may not expect (code reading `choices[0]` of every chunk). The
 * relay has counted its tokens before this sees it.
 */
const withoutAskedUsage: StreamTranslator = {
  filter(events) {
    if (!NO_CHOICES.test(events)) return events
    return eventBlocks(events)
      .filter((block) => !(NO_CHOICES.test(block) && isUsageChunk(eventData(block)[0] ?? '')))
      .join('')
  },
  end: () => '',
}

function isUsageChunk(data: string): boolean {
  try {
    const chunk = JSON.parse(data) as { choices?: unknown; usage?: unknown }
    return Array.isArray(chunk.choices) && chunk.choices.length === 0 && typeof chunk.usage === 'object' && chunk.usage !== null
  } catch {
    return false
  }
}

const USAGE_ASKED_ON_BEHALF: Renderer = { ...PASSTHROUGH, stream: () => withoutAskedUsage }

export function openaiErrorResponse(error: ProxyError): Response {
  return new Response(JSON.stringify({ error: { message: error.message, type: error.type, code: error.code } }), {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...error.headers },
  })
}

/** The SSE event that ends a stream the upstream broke after its first byte. */
export function openaiStreamError(message: string, code = 'upstream_stream_error'): string {
  return `data: ${JSON.stringify({ error: { message, type: 'server_error', code } })}\n\n`
}
