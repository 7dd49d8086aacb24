import { randomBytes } from 'node:crypto'
import { isRecord, type Json } from './request.ts'
import { reasoningOf } from '../chat-answer.ts'
import { findStop } from './stop-sequences.ts'

/** Chat finish reasons as Anthropic stop reasons; a turn with tool calls ends in `tool_use` whatever the upstream said. */
export function stopReasonOf(finish: unknown, calledTools: boolean): string {
  if (finish === 'length') return 'max_tokens'
  if (finish === 'content_filter') return 'refusal'
  return calledTools || finish === 'tool_calls' ? 'tool_use' : 'end_turn'
}

/**
 * Chat usage as Anthropic's: `input_tokens` excludes what was read from the prompt cache, which
 * Anthropic counts apart (`cache_read_input_tokens`) and chat APIs count inside `prompt_tokens`.
 */
export function usageOf(usage: unknown): Json {
  const u = isRecord(usage) ? usage : {}
  const prompt = typeof u.prompt_tokens === 'number' ? u.prompt_tokens : 0
  const details = isRecord(u.prompt_tokens_details) ? u.prompt_tokens_details : {}
  const cached = typeof details.cached_tokens === 'number' ? Math.min(details.cached_tokens, prompt) : 0
  return {
    input_tokens: prompt - cached,
    output_tokens: typeof u.completion_tokens === 'number' ? u.completion_tokens : 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  }
}

export function messageId(upstreamId: unknown): string {
  return typeof upstreamId === 'string' && upstreamId !== '' ? `msg_${upstreamId}` : `msg_${randomBytes(12).toString('hex')}`
}

/**
 * A tool call's id as a `tool_use` id, which Anthropic's API holds to `[a-zA-Z0-9_-]+` when it
 * comes back in the history (after a failover to a native account, say). Any id will do as long
 * as the call and its result agree, and both are translated from the same history.
 */
export function toolUseId(upstreamId: unknown): string {
  return typeof upstreamId === 'string' && upstreamId !== '' ? upstreamId.replace(/[^a-zA-Z0-9_-]/g, '_') : `toolu_${randomBytes(12).toString('hex')}`
}

/** A whole chat completion as an Anthropic message, cut at the first stop sequence. */
export function toAnthropicMessage(chat: Json, stopSequences: readonly string[]): Json {
  const choice = Array.isArray(chat.choices) && isRecord(chat.choices[0]) ? chat.choices[0] : {}
  const message = isRecord(choice.message) ? choice.message : {}
  const content: Json[] = []
  const reasoning = reasoningOf(message)
  if (reasoning) content.push({ type: 'thinking', thinking: reasoning, signature: '' })
  let text = typeof message.content === 'string' ? message.content : ''
  const hit = findStop(text, stopSequences)
  if (hit) text = text.slice(0, hit.at)
  if (text) content.push({ type: 'text', text })
  // After a stop sequence the answer is over: calls the model made later are not part of it.
  const calls = hit || !Array.isArray(message.tool_calls) ? [] : message.tool_calls.filter(isRecord)
  for (const call of calls) {
    const fn = isRecord(call.function) ? call.function : {}
    content.push({ type: 'tool_use', id: toolUseId(call.id), name: typeof fn.name === 'string' ? fn.name : '', input: parseArguments(fn.arguments) })
  }
  if (content.length === 0) content.push({ type: 'text', text: '' })
  return {
    id: messageId(chat.id),
    type: 'message',
    role: 'assistant',
    model: typeof chat.model === 'string' ? chat.model : '',
    content,
    stop_reason: hit ? 'stop_sequence' : stopReasonOf(choice.finish_reason, calls.length > 0),
    stop_sequence: hit ? hit.sequence : null,
    usage: usageOf(chat.usage),
  }
}

/** Tool arguments as the object Anthropic's `input` must be; arguments that are not a JSON object give `{}`. */
function parseArguments(text: unknown): Json {
  if (typeof text !== 'string' || text.trim() === '') return {}
  try {
    const value = JSON.parse(text) as unknown
    return isRecord(value) ? value : {}
  } catch {
    return {}
  }
}
