import { chatMessages } from './messages.ts'
import { BadInput, isRecord, text, type Json } from './json.ts'
import { chatTools, type ToolNames } from './tools.ts'

/** A Responses request as one chat completions request, before any account's own fields. */
export interface ChatRequest {
  body: Json
  names: ToolNames
  /** `reasoning.effort`, for the account's reasoning switch. */
  effort: string | undefined
  /** What was left out (built-in tools, their call items), for the log. */
  dropped: string[]
}

/**
 * What qwenauth refuses before any upstream work, each with what to do instead. Everything
 * else the Responses API takes is accepted; fields with no chat counterpart (`include`,
 * `prompt_cache_key`, `metadata`, `truncation`, `text.verbosity`, …) are simply not sent on.
 */
export function checkRequest(json: Json): void {
  if (json.background === true) throw new BadInput('background responses are not supported (the Qwen APIs have none); send the request without background')
  if (json.conversation !== undefined && json.conversation !== null) throw new BadInput('conversation objects are not supported; continue a conversation with previous_response_id')
  if (json.prompt !== undefined && json.prompt !== null) throw new BadInput("prompt templates are not supported (they live on OpenAI's side); send instructions and input instead")
  if (json.input !== undefined && typeof json.input !== 'string' && !Array.isArray(json.input)) throw new BadInput('input must be a string or an array of items')
  if (json.model !== undefined && typeof json.model !== 'string') throw new BadInput('model must be a string')
  if (json.stream !== undefined && typeof json.stream !== 'boolean') throw new BadInput('stream must be a boolean')
  if (json.previous_response_id !== undefined && json.previous_response_id !== null && typeof json.previous_response_id !== 'string') throw new BadInput('previous_response_id must be a string')
  if (json.input === undefined && !json.previous_response_id) throw new BadInput('input is required')
}

/** The request's own input items (a string is one user message). */
export function inputItems(json: Json): Json[] {
  if (typeof json.input === 'string') return [{ type: 'message', role: 'user', content: json.input }]
  if (!Array.isArray(json.input)) return []
  return json.input.map((item, i) => {
    if (!isRecord(item)) throw new BadInput(`input[${i}] must be an object`)
    return item
  })
}

/** The chat completions request for a Responses request whose conversation is `input` (history included). */
export function chatRequest(json: Json, input: Json[]): ChatRequest {
  const tools = chatTools(json.tools, json.tool_choice)
  const { messages, dropped } = chatMessages(json.instructions, input, tools.names)
  if (messages.length === 0) throw new BadInput('input has no message to send')
  const stream = json.stream === true
  const body: Json = { messages, stream }
  if (typeof json.model === 'string' && json.model) body.model = json.model
  if (stream) body.stream_options = { include_usage: true }
  if (tools.tools.length > 0) {
    body.tools = tools.tools
    if (tools.toolChoice !== undefined) body.tool_choice = tools.toolChoice
    if (typeof json.parallel_tool_calls === 'boolean') body.parallel_tool_calls = json.parallel_tool_calls
  }
  if (typeof json.max_output_tokens === 'number') body.max_tokens = json.max_output_tokens
  for (const field of ['temperature', 'top_p'] as const) if (typeof json[field] === 'number') body[field] = json[field]
  const user = text(json.user) ?? text(json.safety_identifier)
  if (user) body.user = user
  const format = responseFormat(json.text)
  if (format) body.response_format = format
  const effort = isRecord(json.reasoning) ? text(json.reasoning.effort) : undefined
  return { body, names: tools.names, effort, dropped: [...tools.dropped, ...dropped] }
}

/** `text.format` as chat's `response_format`; plain text needs none. */
function responseFormat(textOptions: unknown): Json | undefined {
  const format = isRecord(textOptions) ? textOptions.format : undefined
  if (!isRecord(format) || format.type === 'text') return undefined
  if (format.type === 'json_object') return { type: 'json_object' }
  if (format.type === 'json_schema') {
    if (!isRecord(format.schema)) throw new BadInput('text.format.schema must be a JSON schema object')
    const schema: Json = { name: text(format.name) ?? 'response', schema: format.schema }
    if (typeof format.description === 'string') schema.description = format.description
    if (typeof format.strict === 'boolean') schema.strict = format.strict
    return { type: 'json_schema', json_schema: schema }
  }
  throw new BadInput(`text.format.type "${String(format.type)}" is not supported (text, json_object and json_schema are)`)
}
