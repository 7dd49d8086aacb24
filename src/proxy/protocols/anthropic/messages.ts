import { anthropicBaseOf, reasoningSwitchOf } from '../../../auth/api-key/providers.ts'
import type { Account } from '../../../store/account-model.ts'
import { accountUrl } from '../../upstream.ts'
import { chatConversationKey, proxyError, type InboundProtocol, type Renderer, type UpstreamCall } from '../protocol.ts'
import { anthropicErrorResponse, anthropicStreamError, errorBody, translatedError } from './errors.ts'
import { nativeCall } from './native.ts'
import { reasoningFields, toChatRequest, UntranslatableRequest, type ChatTranslation, type Json } from './request.ts'
import { toAnthropicMessage } from './response.ts'
import { AnthropicStreamTranslator } from './stream.ts'

/**
 * `POST /v1/messages`: Anthropic's Messages API on every account. An account whose provider
 * serves that API gets the request as it is (native.ts); any other gets it as a chat completion
 * and its answer back as a message (request.ts, response.ts, stream.ts). Both kinds take part in
 * one failover, so a request that fails on one kind moves on to the other.
 */
export const anthropicMessages: InboundProtocol = {
  error: anthropicErrorResponse,
  plan(request) {
    let translation: ChatTranslation
    try {
      translation = toChatRequest(request.body?.json ?? {})
    } catch (error) {
      if (error instanceof UntranslatableRequest) return proxyError(400, error.message, 'invalid_request_error', 'invalid_request')
      throw error
    }
    const render = translatedRenderer(translation.stopSequences)
    const affinityKey = chatConversationKey(translation.body)
    return {
      ...(affinityKey ? { affinityKey } : {}),
      callFor(account) {
        const native = anthropicBaseOf(account)
        return native ? nativeCall(native, request) : translatedCall(account, translation, render)
      },
    }
  },
}

function translatedCall(account: Account, translation: ChatTranslation, render: Renderer): UpstreamCall {
  const json = { ...translation.body, ...reasoningFields(translation.thinking, reasoningSwitchOf(account.provider)) }
  return {
    method: 'POST',
    url: accountUrl(account, '/chat/completions'),
    body: { text: JSON.stringify(json), json },
    bodyKind: 'chat',
    stream: json.stream === true,
    accept: null,
    usage: 'openai',
    render,
  }
}

function translatedRenderer(stopSequences: string[]): Renderer {
  return {
    whole(status, bytes) {
      const contentType = 'application/json; charset=utf-8'
      if (status < 200 || status >= 300) return { status, body: translatedError(status, bytes), contentType }
      let chat: unknown
      try {
        chat = JSON.parse(new TextDecoder().decode(bytes))
      } catch {}
      if (typeof chat !== 'object' || chat === null || !Array.isArray((chat as Json).choices)) {
        return { status: 502, body: errorBody(502, 'the upstream answered with something that is not a chat completion'), contentType }
      }
      return { status, body: JSON.stringify(toAnthropicMessage(chat as Json, stopSequences)), contentType }
    },
    stream: () => new AnthropicStreamTranslator(stopSequences),
    streamFailure: anthropicStreamError,
  }
}
