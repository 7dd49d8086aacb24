import type { Account } from '../../../store/account-model.ts'
import type { Renderer, StreamTranslator } from '../protocol.ts'
import { openaiErrorBody } from './errors.ts'
import { isRecord, text, type Json } from './json.ts'

/**
 * Providers that serve the Responses API themselves at `{base}/responses`: DashScope
 * pay-as-you-go (docs/qwen-protocol.md §8). The Coding Plan, Qwen OAuth and the others have no
 * such route; they get the request translated to chat completions.
 */
const NATIVE_PROVIDERS = new Set(['dashscope', 'dashscope-intl'])

/** What DashScope documents beside functions: its own built-in tools. */
const NATIVE_TOOLS = new Set(['function', 'web_search', 'web_extractor', 'code_interpreter'])
const NATIVE_ITEMS = new Set(['message', 'function_call', 'function_call_output', 'reasoning'])

export function servesResponses(account: Account): boolean {
  return account.kind === 'api-key' && NATIVE_PROVIDERS.has(account.provider)
}

/**
 * Whether a request stays within what the native API takes. Codex's freeform and namespaced
 * tools are OpenAI's alone: such a request is translated for every account.
 */
export function nativeCanServe(json: Json, input: Json[]): boolean {
  const tools = Array.isArray(json.tools) ? json.tools : []
  if (!tools.every((tool) => isRecord(tool) && NATIVE_TOOLS.has(String(tool.type)))) return false
  if (isRecord(json.tool_choice) && !['function', 'allowed_tools'].includes(String(json.tool_choice.type))) return false
  return input.every((item) => NATIVE_ITEMS.has(text(item.type) ?? (typeof item.role === 'string' ? 'message' : '')) && item.namespace === undefined)
}

/**
 * The request as the native API gets it: the conversation spelled out in `input` (qwenauth
 * keeps conversations itself, so any account can continue them), without reasoning items
 * another model wrote.
 */
export function nativeBody(json: Json, input: Json[]): Json {
  const { previous_response_id: _previous, ...rest } = json
  return { ...rest, input: input.filter((item) => item.type !== 'reasoning') }
}

/**
 * The native answer passed on event by event, with one change: the response and item ids
 * become qwenauth's own (`resp_<hex>`, `msg_<hex>_<n>`), so `previous_response_id` and
 * `item_reference` work the same whichever account, native or translated, serves next.
 */
export function nativeRenderer(responseId: string, kept: (response: Json) => void): Renderer {
  const hex = responseId.slice('resp_'.length)
  let live: { seq: number; ended: boolean } | undefined
  const failed = (message: string, seq: number) =>
    sse({ type: 'response.failed', response: { id: responseId, object: 'response', status: 'failed', output: [], error: { code: 'server_error', message } }, sequence_number: seq })
  return {
    whole(status, bytes) {
      if (status >= 300) return { status, body: openaiErrorBody(status, bytes), contentType: 'application/json; charset=utf-8' }
      let parsed: unknown
      try {
        parsed = JSON.parse(new TextDecoder().decode(bytes))
      } catch {
        return { status, body: bytes, contentType: 'application/json; charset=utf-8' }
      }
      const response = isRecord(parsed) ? renumber(parsed, responseId, hex) : parsed
      if (isRecord(response) && (response.status === 'completed' || response.status === 'incomplete')) kept(response)
      return { status, body: JSON.stringify(response), contentType: 'application/json; charset=utf-8' }
    },
    stream(): StreamTranslator {
      const state = { seq: 0, ended: false }
      const types = new Map<number, string>()
      live = state
      return {
        event(data) {
          let event: unknown
          try {
            event = JSON.parse(data)
          } catch {
            return ''
          }
          if (!isRecord(event) || typeof event.type !== 'string' || state.ended) return ''
          if (typeof event.sequence_number === 'number') state.seq = event.sequence_number + 1
          renumberEvent(event, responseId, hex, types)
          if (event.type === 'response.completed' || event.type === 'response.incomplete' || event.type === 'response.failed') {
            state.ended = true
            if (event.type !== 'response.failed' && isRecord(event.response)) kept(event.response)
          }
          return sse(event)
        },
        end: () => (state.ended ? '' : ((state.ended = true), failed('the upstream ended the stream before the answer was finished; retry the request', state.seq))),
        failure: (event) => event,
      }
    },
    streamFailure(message) {
      if (!live || live.ended) return live ? '' : failed(message, 0)
      live.ended = true
      return failed(message, live.seq)
    },
  }
}

function sse(event: Json): string {
  return `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`
}

const ITEM_PREFIX: Record<string, string> = { message: 'msg', function_call: 'fc', custom_tool_call: 'ctc', reasoning: 'rs' }

function itemId(hex: string, type: unknown, index: number): string {
  return `${ITEM_PREFIX[String(type)] ?? 'item'}_${hex}_${index}`
}

function renumber(response: Json, responseId: string, hex: string): Json {
  response.id = responseId
  if (Array.isArray(response.output)) {
    response.output.forEach((item, index) => {
      if (isRecord(item)) item.id = itemId(hex, item.type, index)
    })
  }
  return response
}

/** Every id an event carries: the response's, the item's, and `item_id` beside `output_index`. */
function renumberEvent(event: Json, responseId: string, hex: string, types: Map<number, string>): void {
  if (isRecord(event.response)) renumber(event.response, responseId, hex)
  const index = typeof event.output_index === 'number' ? event.output_index : undefined
  if (index === undefined) return
  if (isRecord(event.item)) {
    types.set(index, String(event.item.type))
    event.item.id = itemId(hex, event.item.type, index)
  }
  if (typeof event.item_id === 'string') event.item_id = itemId(hex, types.get(index) ?? itemTypeOf(event.type), index)
}

/** The item type an event about part of an item implies (`response.output_text.delta` → a message). */
function itemTypeOf(eventType: unknown): string {
  const type = String(eventType)
  if (type.includes('function_call')) return 'function_call'
  if (type.includes('reasoning')) return 'reasoning'
  if (type.includes('custom_tool_call')) return 'custom_tool_call'
  return 'message'
}
