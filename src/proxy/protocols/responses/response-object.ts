import { randomBytes } from 'node:crypto'
import { isRecord, type Json } from './json.ts'

/** What a response says about itself before any output: its id, time, model, and the request's settings echoed back. */
export interface ResponseShell {
  id: string
  /** Epoch seconds. */
  createdAt: number
  model: string
  request: Json
}

/** `resp_` and 24 hex digits; item ids repeat the digits, so an item names its response. */
export function newResponseId(): string {
  return `resp_${randomBytes(12).toString('hex')}`
}

/**
 * The response an item id of ours (`msg_<hex>_<n>`) belongs to. (`n` is the item's place among the
 * events' output indexes; the kept output may be shorter, a nameless tool call left out.)
 */
export function itemOwner(itemId: string): { responseId: string } | undefined {
  const match = /^[a-z]+_([0-9a-f]{24})_\d+$/.exec(itemId)
  return match ? { responseId: `resp_${match[1]}` } : undefined
}

export interface ResponseState {
  status: 'in_progress' | 'completed' | 'incomplete' | 'failed'
  output: Json[]
  /** Chat completions usage, converted here. */
  usage: Json | undefined
  finishReason: string | undefined
  error: Json | undefined
}

/** The Responses API's `response` object, with the request's own settings echoed as OpenAI does. */
export function responseObject(shell: ResponseShell, state: ResponseState): Json {
  const r = shell.request
  const reasoning = isRecord(r.reasoning) ? r.reasoning : {}
  const textOptions = isRecord(r.text) ? r.text : {}
  const outputText = state.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => (Array.isArray(item.content) ? item.content : []))
    .map((part) => (isRecord(part) && part.type === 'output_text' ? String(part.text) : ''))
    .join('')
  return {
    id: shell.id,
    object: 'response',
    created_at: shell.createdAt,
    status: state.status,
    background: false,
    error: state.error ?? null,
    incomplete_details: state.status === 'incomplete' ? { reason: state.finishReason === 'content_filter' ? 'content_filter' : 'max_output_tokens' } : null,
    instructions: r.instructions ?? null,
    max_output_tokens: r.max_output_tokens ?? null,
    metadata: r.metadata ?? {},
    model: shell.model,
    output: state.output,
    output_text: outputText,
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: r.previous_response_id ?? null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    store: r.store ?? true,
    temperature: r.temperature ?? null,
    text: { format: isRecord(textOptions.format) ? textOptions.format : { type: 'text' } },
    tool_choice: r.tool_choice ?? 'auto',
    tools: Array.isArray(r.tools) ? r.tools : [],
    top_p: r.top_p ?? null,
    truncation: r.truncation ?? 'disabled',
    usage: state.usage ? responsesUsage(state.usage) : null,
    user: r.user ?? null,
  }
}

/** Chat completions token counts in the Responses API's names. */
export function responsesUsage(usage: Json): Json {
  const input = Number(usage.prompt_tokens ?? 0)
  const output = Number(usage.completion_tokens ?? 0)
  const promptDetails = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {}
  const completionDetails = isRecord(usage.completion_tokens_details) ? usage.completion_tokens_details : {}
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: Number(promptDetails.cached_tokens ?? 0) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: Number(completionDetails.reasoning_tokens ?? 0) },
    total_tokens: Number(usage.total_tokens ?? input + output),
  }
}
