/**
 * An Anthropic Messages request as a chat-completions request, for accounts whose provider
 * speaks only OpenAI's API. What has a counterpart is translated; what has none (cache_control,
 * context_management, output_config, thinking signatures, unknown fields) is left out, never
 * refused, since Claude Code sends much of it on every request.
 */
import type { ReasoningSwitch } from '../../../auth/api-key/providers.ts'

export type Json = Record<string, unknown>

/** What the client asked of reasoning: Anthropic's `thinking`, reduced to what a chat request can say. */
export type ThinkingRequest = { enabled: true; budget?: number } | { enabled: false } | undefined

export interface ChatTranslation {
  /** The chat-completions body, without the provider's reasoning switch (see `reasoningFields`). */
  body: Json
  thinking: ThinkingRequest
  /** Applied by the translator, not the upstream, so the one that matched can be reported. */
  stopSequences: string[]
}

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A request the translation cannot make sense of: answered 400 `invalid_request_error`. */
export class UntranslatableRequest extends Error {}

export function toChatRequest(request: Json): ChatTranslation {
  if (!Array.isArray(request.messages)) throw new UntranslatableRequest('messages: Field required (an array of {role, content})')
  const tools = chatTools(request.tools, loadedTools(request.messages))
  const body: Json = {
    model: request.model,
    messages: [...systemMessages(request.system), ...conversation(request.messages)],
  }
  if (typeof request.max_tokens === 'number') body.max_tokens = request.max_tokens
  for (const field of ['temperature', 'top_p'] as const) if (typeof request[field] === 'number') body[field] = request[field]
  if (tools.length > 0) {
    body.tools = tools
    const choice = toolChoice(request.tool_choice)
    if (choice !== undefined) body.tool_choice = choice
    if (isRecord(request.tool_choice) && request.tool_choice.disable_parallel_tool_use === true) body.parallel_tool_calls = false
  }
  const user = isRecord(request.metadata) ? request.metadata.user_id : undefined
  if (typeof user === 'string' && user !== '') body.user = user
  if (request.stream === true) {
    body.stream = true
    body.stream_options = { include_usage: true }
  }
  const stops = Array.isArray(request.stop_sequences) ? request.stop_sequences.filter((s): s is string => typeof s === 'string' && s !== '') : []
  return { body, thinking: thinkingOf(request.thinking), stopSequences: stops }
}

/**
 * `enabled` (with its budget) asks for reasoning and `disabled` turns it off; `adaptive`, what
 * Claude Code always sends, leaves it to the model, as no switch at all does.
 */
function thinkingOf(thinking: unknown): ThinkingRequest {
  if (!isRecord(thinking)) return undefined
  if (thinking.type === 'enabled') return typeof thinking.budget_tokens === 'number' && thinking.budget_tokens > 0 ? { enabled: true, budget: thinking.budget_tokens } : { enabled: true }
  if (thinking.type === 'disabled') return { enabled: false }
  return undefined
}

/** Claude's `thinking` in the provider's own switch (see `reasoningSwitchOf`); a custom URL gets none. */
export function reasoningFields(thinking: ThinkingRequest, style: ReasoningSwitch | undefined): Json {
  if (!thinking || !style) return {}
  if (style === 'reasoning') return thinking.enabled ? { reasoning: thinking.budget ? { max_tokens: thinking.budget } : { enabled: true } } : { reasoning: { enabled: false } }
  if (!thinking.enabled) return { enable_thinking: false }
  return thinking.budget ? { enable_thinking: true, thinking_budget: thinking.budget } : { enable_thinking: true }
}

function systemMessages(system: unknown): Json[] {
  const text = typeof system === 'string' ? system : textOf(system)
  return text ? [{ role: 'system', content: text }] : []
}

/** The text blocks of a content array, joined; other blocks are left out. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .filter((b): b is Json => isRecord(b) && b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .join('\n')
}

/**
 * The turns in order. A user turn's tool results become `tool` messages first (they must follow
 * the assistant's calls), then its text and images a user message. A result whose call is not in
 * the turn before (the chat API refuses those) becomes user text; a call left without a result
 * gets an empty one, which the chat API requires. A `system` turn inside `messages` (Claude Code
 * sends one) joins the user message before it, as Claude Code itself folds it when an API
 * refuses it, or else stands as a system message in place.
 */
function conversation(messages: unknown[]): Json[] {
  const out: Json[] = []
  let calls: string[] = []
  // A system turn between calls and their results waits for the results.
  const held: string[] = []
  messages.forEach((message, i) => {
    if (!isRecord(message)) throw new UntranslatableRequest(`messages.${i}: Input should be an object`)
    if (message.role === 'system') return calls.length > 0 ? void held.push(textOf(message.content)) : addSystemTurn(out, textOf(message.content))
    if (message.role !== 'user' && message.role !== 'assistant') throw new UntranslatableRequest(`messages.${i}.role: Input should be 'user' or 'assistant'`)
    const answered = message.role === 'user' ? userMessages(message.content, new Set(calls)) : { results: [], rest: [] }
    const missing = calls.filter((id) => !answered.results.some((r) => r.tool_call_id === id))
    out.push(...answered.results, ...missing.map((id) => ({ role: 'tool', tool_call_id: id, content: '(no result)' })))
    for (const text of held.splice(0)) addSystemTurn(out, text)
    out.push(...answered.rest)
    calls = []
    if (message.role === 'assistant') {
      const assistant = assistantMessage(message.content)
      calls = ((assistant.tool_calls as Json[] | undefined) ?? []).map((c) => c.id as string)
      out.push(assistant)
    }
  })
  for (const text of held) addSystemTurn(out, text)
  return out
}

function addSystemTurn(out: Json[], text: string): void {
  if (!text) return
  const last = out[out.length - 1]
  if (last?.role !== 'user') return void out.push({ role: 'system', content: text })
  const reminder = { type: 'text', text: `<system-reminder>\n${text}\n</system-reminder>` }
  last.content = typeof last.content === 'string' ? [{ type: 'text', text: last.content }, reminder] : [...(last.content as Json[]), reminder]
}

function assistantMessage(content: unknown): Json {
  if (typeof content === 'string') return { role: 'assistant', content }
  const blocks = Array.isArray(content) ? content.filter(isRecord) : []
  const text = blocks.filter((b) => b.type === 'text' && typeof b.text === 'string').map((b) => b.text as string).join('')
  // Thinking blocks (and their signatures) have no place in a chat request: they are dropped.
  const toolCalls = blocks
    .filter((b) => b.type === 'tool_use' && typeof b.id === 'string' && typeof b.name === 'string')
    .map((b) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(isRecord(b.input) ? b.input : {}) } }))
  if (toolCalls.length === 0) return { role: 'assistant', content: text }
  return { role: 'assistant', content: text || null, tool_calls: toolCalls }
}

function userMessages(content: unknown, calls: Set<string>): { results: Json[]; rest: Json[] } {
  if (typeof content === 'string') return { results: [], rest: [{ role: 'user', content }] }
  const results: Json[] = []
  const parts: Json[] = []
  for (const block of Array.isArray(content) ? content.filter(isRecord) : []) {
    if (block.type === 'tool_result') {
      const id = typeof block.tool_use_id === 'string' ? block.tool_use_id : ''
      const { text, images } = toolResultContent(block)
      if (calls.delete(id)) results.push({ role: 'tool', tool_call_id: id, content: text })
      else parts.push({ type: 'text', text: `[result of tool call ${id || '(no id)'}]\n${text}` })
      parts.push(...images)
      continue
    }
    const part = contentPart(block)
    if (part) parts.push(part)
  }
  if (parts.length === 0) return { results, rest: [] }
  // A plain string where the turn is text only: every chat API takes that.
  const onlyText = parts.every((p) => p.type === 'text')
  return { results, rest: [{ role: 'user', content: onlyText ? parts.map((p) => p.text).join('\n') : parts }] }
}

/** A text, image or document block as a chat content part; blocks with no counterpart are left out. */
function contentPart(block: Json): Json | undefined {
  if (block.type === 'text' && typeof block.text === 'string') return { type: 'text', text: block.text }
  if (block.type === 'image') {
    const url = imageUrl(block.source)
    return url ? { type: 'image_url', image_url: { url } } : undefined
  }
  if (block.type === 'document' && isRecord(block.source) && block.source.type === 'text' && typeof block.source.data === 'string') {
    return { type: 'text', text: block.source.data }
  }
  if (block.type === 'document') return { type: 'text', text: '[a document was attached here; this model cannot read it through qwenauth]' }
  return undefined
}

function imageUrl(source: unknown): string | undefined {
  if (!isRecord(source)) return undefined
  if (source.type === 'base64' && typeof source.data === 'string') return `data:${typeof source.media_type === 'string' ? source.media_type : 'image/png'};base64,${source.data}`
  if (source.type === 'url' && typeof source.url === 'string') return source.url
  return undefined
}

/**
 * A tool message holds text only: images a tool returned (Read of a picture) follow in the user
 * message after the results. `is_error` marks the text, since a tool message has no such flag.
 */
function toolResultContent(block: Json): { text: string; images: Json[] } {
  const content = block.content
  const images: Json[] = []
  let text: string
  if (typeof content === 'string') text = content
  else {
    const pieces: string[] = []
    for (const item of Array.isArray(content) ? content.filter(isRecord) : []) {
      if (item.type === 'text' && typeof item.text === 'string') pieces.push(item.text)
      else if (item.type === 'tool_reference' && typeof item.tool_name === 'string') pieces.push(`Tool ${item.tool_name} loaded.`)
      else if (item.type === 'image') {
        const part = contentPart(item)
        if (part) images.push(part)
      }
    }
    text = pieces.join('\n') || (images.length > 0 ? `(${images.length === 1 ? 'an image' : `${images.length} images`}, attached below)` : '')
  }
  return { text: block.is_error === true ? `Error: ${text}` : text, images }
}

/** Tools a tool search loaded (`tool_reference` results): their deferred definitions are offered. */
function loadedTools(messages: unknown[]): Set<string> {
  const names = new Set<string>()
  for (const message of messages) {
    if (!isRecord(message) || !Array.isArray(message.content)) continue
    for (const block of message.content) {
      if (!isRecord(block) || block.type !== 'tool_result' || !Array.isArray(block.content)) continue
      for (const item of block.content) if (isRecord(item) && item.type === 'tool_reference' && typeof item.tool_name === 'string') names.add(item.tool_name)
    }
  }
  return names
}

/**
 * Client tools as functions. Anthropic's own server tools (web search, …: a `type` and no
 * `input_schema`) cannot run elsewhere and are left out, as are deferred tools no search loaded.
 */
function chatTools(tools: unknown, loaded: Set<string>): Json[] {
  if (!Array.isArray(tools)) return []
  return tools
    .filter((t): t is Json => isRecord(t) && typeof t.name === 'string' && isRecord(t.input_schema))
    .filter((t) => t.defer_loading !== true || loaded.has(t.name as string))
    .map((t) => {
      const { $schema: _dialect, ...parameters } = t.input_schema as Json
      return { type: 'function', function: { name: t.name, ...(typeof t.description === 'string' ? { description: t.description } : {}), parameters } }
    })
}

function toolChoice(choice: unknown): unknown {
  if (!isRecord(choice)) return undefined
  if (choice.type === 'auto') return 'auto'
  if (choice.type === 'any') return 'required'
  if (choice.type === 'none') return 'none'
  if (choice.type === 'tool' && typeof choice.name === 'string') return { type: 'function', function: { name: choice.name } }
  return undefined
}
