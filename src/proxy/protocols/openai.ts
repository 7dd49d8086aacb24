import { accountUrl } from '../upstream.ts'
import { chatConversationKey, type BodyKind, type InboundProtocol, type ProxyError, type Renderer } from './protocol.ts'

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
      // Hashed only when asked for (`--affinity`): the hash cost more than the rest of the plan.
      let affinityKey: string | undefined | null = null
      return {
        get affinityKey() {
          if (affinityKey === null) affinityKey = bodyKind === 'chat' ? chatConversationKey(request.body?.json) : undefined
          return affinityKey
        },
        callFor: (account) => ({
          method: request.body ? 'POST' : 'GET',
          url: accountUrl(account, upstreamPath, request.search),
          body: request.body,
          bodyKind,
          stream,
          accept,
          usage: 'openai',
          render: PASSTHROUGH,
        }),
      }
    },
  }
}

const PASSTHROUGH: Renderer = { streamFailure: (message) => openaiStreamError(message) }

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
