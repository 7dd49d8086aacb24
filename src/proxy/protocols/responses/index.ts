import { logger } from '../../../lib/logger.ts'
import type { Account } from '../../../store/account-model.ts'
import type { JsonBody } from '../../body.ts'
import { clientIdentity } from '../../client-keys.ts'
import { accountUrl } from '../../upstream.ts'
import { openaiErrorResponse } from '../openai.ts'
import { chatConversationKey, isProxyError, proxyError, type AppServices, type InboundProtocol, type InboundRequest, type Plan, type ProxyError, type UpstreamCall } from '../protocol.ts'
import { BadInput, isRecord, text, type Json } from './json.ts'
import { keepInBackground, keptFor, keptResponses, type KeptResponse, type KeptResponses } from './kept.ts'
import { nativeBody, nativeCanServe, nativeRenderer, servesResponses } from './native.ts'
import { ResponseWriter } from './output.ts'
import { reasoningFields } from './reasoning.ts'
import { chatRequest, checkRequest, inputItems } from './request.ts'
import { itemOwner, newResponseId, type ResponseShell } from './response-object.ts'
import { translatedRenderer } from './translated.ts'

/**
 * `POST /v1/responses`, OpenAI's Responses API, on every account: translated to chat
 * completions, or forwarded as it is to a provider that serves it (DashScope pay-as-you-go),
 * with failover between the two within one request. qwenauth keeps the conversations
 * (`previous_response_id`) itself, so any account can continue any of them.
 */
export const responsesProtocol: InboundProtocol = {
  error: openaiErrorResponse,
  async plan(request) {
    const json = request.body?.json ?? {}
    const store = keptOf(request)
    try {
      checkRequest(json)
      const history = await previousConversation(store, text(json.previous_response_id))
      if (isProxyError(history)) return history
      const own = await resolveReferences(store, inputItems(json))
      if (isProxyError(own)) return own
      const input = [...history, ...own]
      const chat = chatRequest(json, input)
      return planCalls(request.app, json, input, chat, store)
    } catch (error) {
      if (error instanceof BadInput) return proxyError(400, error.message, 'invalid_request_error', 'invalid_request')
      throw error
    }
  },
}

/** The kept responses this client may see: its key's, or every one of a keyless proxy. */
function keptOf(request: InboundRequest): KeptResponses {
  return keptFor(keptResponses(request.app), clientIdentity(request.headers, request.app.settings.apiKeys.length > 0))
}

/** `GET /v1/responses/{id}`: a response qwenauth keeps, as it was answered. */
export const keptResponseProtocol: InboundProtocol = {
  error: openaiErrorResponse,
  async plan(request) {
    const id = pathId(request.path)
    const store = keptOf(request)
    const kept = await readKept(store, id)
    if (!kept) return notKeptError(store, id, 'id')
    if (isProxyError(kept)) return kept
    return new Response(JSON.stringify(kept.response), { headers: { 'content-type': 'application/json; charset=utf-8' } })
  },
}

/** The `{id}` of the path, decoded; a malformed escape is kept as sent (no response has such an id). */
function pathId(path: string): string {
  const raw = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

function planCalls(app: AppServices, json: Json, input: Json[], chat: ReturnType<typeof chatRequest>, store: KeptResponses): Plan {
  const responseId = newResponseId()
  const clientStreams = json.stream === true
  const keep = json.store === false ? () => {} : (response: Json) => keepInBackground(store, { response, input: input.filter((item) => item.type !== 'item_reference') })
  const shell = (): ResponseShell => ({ id: responseId, createdAt: Math.floor(app.settings.now() / 1000), model: text(json.model) ?? '', request: json })
  const native = nativeCanServe(json, input) ? asBody(nativeBody(json, input)) : undefined
  const bodies = new Map<string, JsonBody>()
  let noted = false
  // The whole conversation's opening (a previous_response_id chain's included) keys it.
  const affinityKey = chatConversationKey({ prompt_cache_key: json.prompt_cache_key, messages: chat.body.messages })
  return {
    ...(affinityKey ? { affinityKey } : {}),
    callFor(account: Account): UpstreamCall {
      if (native && servesResponses(account)) {
        return { method: 'POST', url: accountUrl(account, '/responses'), body: native, bodyKind: 'responses', stream: clientStreams, accept: null, usage: 'responses', render: nativeRenderer(responseId, keep) }
      }
      if (!noted && chat.dropped.length > 0) {
        noted = true
        logger.debug(`POST /v1/responses: left out ${[...new Set(chat.dropped)].join(', ')} (built-in tools no chat upstream can run)`)
      }
      const extra = reasoningFields(account, chat.effort)
      const variant = JSON.stringify(extra)
      let body = bodies.get(variant)
      if (!body) bodies.set(variant, (body = asBody({ ...chat.body, ...extra })))
      return {
        method: 'POST',
        url: accountUrl(account, '/chat/completions'),
        body,
        bodyKind: 'chat',
        stream: clientStreams,
        accept: null,
        usage: 'openai',
        render: translatedRenderer(() => new ResponseWriter(shell(), chat.names, app.settings.maxAnswerBytes), clientStreams, keep),
      }
    },
  }
}

function asBody(json: Json): JsonBody {
  return { json, text: JSON.stringify(json) }
}

/** The earlier turns `previous_response_id` names: their input and output, in order. */
async function previousConversation(store: KeptResponses, id: string | undefined): Promise<Json[] | ProxyError> {
  if (!id) return []
  const kept = await readKept(store, id)
  if (!kept) return notKeptError(store, id, 'previous_response_id')
  if (isProxyError(kept)) return kept
  return [...kept.input, ...(Array.isArray(kept.response.output) ? kept.response.output.filter(isRecord) : [])]
}

/**
 * `item_reference` items (the AI SDK sends them for earlier output) replaced by the items they
 * name. A reasoning item no longer kept is left out (no model needs another's reasoning);
 * anything else that is gone is an error, not a silently shorter conversation.
 */
async function resolveReferences(store: KeptResponses, items: Json[]): Promise<Json[] | ProxyError> {
  const out: Json[] = []
  for (const item of items) {
    if (item.type !== 'item_reference') {
      out.push(item)
      continue
    }
    const id = text(item.id) ?? ''
    const owner = itemOwner(id)
    const kept = owner ? await readKept(store, owner.responseId) : undefined
    if (isProxyError(kept)) return kept
    // By id, not by the index in it: a call whose name never came is left out of the kept output.
    const found = kept && Array.isArray(kept.response.output) ? kept.response.output.find((entry) => isRecord(entry) && entry.id === id) : undefined
    if (isRecord(found)) out.push(found)
    else if (!id.startsWith('rs_')) return notKeptError(store, id, 'input')
  }
  return out
}

async function readKept(store: KeptResponses, id: string): Promise<KeptResponse | ProxyError | undefined> {
  try {
    return await store.get(id)
  } catch (error) {
    return proxyError(503, `could not read kept responses ${store.where}: ${(error as Error).message}`, 'service_unavailable', 'store_unavailable')
  }
}

function notKeptError(store: KeptResponses, id: string, param: string): ProxyError {
  const what = param === 'input' ? `an item of a response, ${id},` : `response ${id}`
  return proxyError(
    404,
    `${what} is not kept by qwenauth (${store.where}): it is older than its limits (QWENAUTH_RESPONSES_KEEP, QWENAUTH_RESPONSES_KEEP_MS), was made with store: false, or never existed. Send the whole conversation in input instead`,
    'invalid_request_error',
    param === 'id' ? 'response_not_found' : `${param === 'input' ? 'item' : 'previous_response'}_not_found`,
  )
}
