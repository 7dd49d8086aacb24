import { DEFAULTS } from '../../../defaults.ts'
import { proxyError, type InboundProtocol } from '../protocol.ts'
import { anthropicErrorResponse } from './errors.ts'
import { isRecord, toChatRequest, UntranslatableRequest, type Json } from './request.ts'
import { qwenTokenCounter, type TokenCounter } from './tokenizer.ts'

/**
 * `POST /v1/messages/count_tokens`, answered by qwenauth itself: every Qwen model shares one
 * tokenizer, so the count needs no account and costs no request. The request is laid out as
 * Qwen's chat template lays it out (roles, tool definitions, tool calls and results), so the
 * count includes what the template adds; images count as Qwen-VL's largest image.
 */
export const anthropicCountTokens: InboundProtocol = {
  error: anthropicErrorResponse,
  async plan(request) {
    const body = request.body?.json ?? {}
    let chat: Json
    try {
      chat = toChatRequest({ ...body, stream: false }).body
    } catch (error) {
      if (error instanceof UntranslatableRequest) return proxyError(400, error.message, 'invalid_request_error', 'invalid_request')
      throw error
    }
    const inputTokens = estimateTokens(chat, await qwenTokenCounter())
    return new Response(JSON.stringify({ input_tokens: inputTokens }), { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' } })
  },
}

/** Qwen3's template around each message: `<|im_start|>role\n … <|im_end|>\n`. */
const MESSAGE_OVERHEAD = 5
/** `<|im_start|>assistant\n`, where the answer begins. */
const ANSWER_PRIMER = 3
const TOOLS_PREAMBLE =
  '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'

export function estimateTokens(chat: Json, count: TokenCounter): number {
  const messages = Array.isArray(chat.messages) ? chat.messages.filter(isRecord) : []
  const tools = Array.isArray(chat.tools) ? chat.tools : []
  let total = ANSWER_PRIMER
  if (tools.length > 0) {
    total += count(TOOLS_PREAMBLE) + tools.reduce<number>((sum, tool) => sum + count(`\n${JSON.stringify(tool)}`), 0)
    // The tools go into the system message; without one the template makes one.
    if (messages[0]?.role !== 'system') total += MESSAGE_OVERHEAD
  }
  for (const message of messages) total += MESSAGE_OVERHEAD + contentTokens(message, count)
  return total
}

function contentTokens(message: Json, count: TokenCounter): number {
  let total = 0
  const content = message.content
  if (typeof content === 'string') total += count(content)
  else if (Array.isArray(content)) {
    for (const part of content.filter(isRecord)) total += part.type === 'image_url' ? DEFAULTS.imageTokens : count(typeof part.text === 'string' ? part.text : '')
  }
  if (message.role === 'tool') total += count('<tool_response>\n\n</tool_response>')
  for (const call of Array.isArray(message.tool_calls) ? message.tool_calls.filter(isRecord) : []) {
    const fn = isRecord(call.function) ? call.function : {}
    total += count(`<tool_call>\n{"name": ${JSON.stringify(fn.name)}, "arguments": ${String(fn.arguments)}}\n</tool_call>`)
  }
  return total
}
