import { DEFAULTS } from '../../../defaults.ts'
import type { InboundRequest, Renderer, UpstreamCall } from '../protocol.ts'
import { anthropicStreamError } from './errors.ts'

/** Native answers go back byte for byte; only a stream that breaks gets an error event of qwenauth's. */
const NATIVE: Renderer = { streamFailure: anthropicStreamError }

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
