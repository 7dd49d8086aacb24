import { DEFAULTS } from '../../../defaults.ts'
import type { InboundRequest, Renderer, StreamTranslator, UpstreamCall } from '../protocol.ts'
import { anthropicStreamError } from './errors.ts'
import { sseEvent } from './events.ts'
import { isRecord } from './request.ts'
import { ENDED_EARLY } from './stream.ts'

/**
 * Native answers go back as they came, event by event. qwenauth adds only an error event where
 * the stream breaks, or ends before `message_stop` (the client would take a cut answer as
 * whole), and a `ping` while the upstream is silent.
 */
const NATIVE: Renderer = { streamFailure: anthropicStreamError, stream: nativeStream }

function nativeStream(): StreamTranslator {
  let ended = false
  return {
    event(data) {
      let type: string | undefined
      try {
        const event: unknown = JSON.parse(data)
        if (isRecord(event) && typeof event.type === 'string') type = event.type
      } catch {}
      if (type === 'message_stop' || type === 'error') ended = true
      return `${type ? `event: ${type}\n` : ''}data: ${data}\n\n`
    },
    end: () => (ended ? '' : ((ended = true), anthropicStreamError(ENDED_EARLY))),
    failure: (event) => (ended ? '' : ((ended = true), event)),
    keepAlive: () => (ended ? '' : sseEvent('ping', {})),
  }
}

/**
 * The request as the client sent it, to a provider that serves the Anthropic Messages API
 * itself (docs/qwen-protocol.md §8): prompt caching (`cache_control`), thinking and its
 * signatures, betas and fields qwenauth does not know all reach it. The core adds the credential
 * (`x-api-key` and `Authorization: Bearer`, both of which the providers take), renames the model
 * and caps `max_tokens` as for any account.
 */
export function nativeCall(anthropicBase: string, request: InboundRequest): UpstreamCall {
  const headers: Record<string, string> = { 'anthropic-version': request.headers.get('anthropic-version') ?? DEFAULTS.anthropicVersion }
  const beta = request.headers.get('anthropic-beta')
  if (beta) headers['anthropic-beta'] = beta
  return {
    method: 'POST',
    url: `${anthropicBase.replace(/\/+$/, '')}/v1/messages${request.search}`,
    body: request.body,
    bodyKind: 'messages',
    stream: request.body?.json.stream === true,
    accept: request.headers.get('accept'),
    headers,
    apiKeyHeader: 'x-api-key',
    usage: 'anthropic',
    render: NATIVE,
  }
}
