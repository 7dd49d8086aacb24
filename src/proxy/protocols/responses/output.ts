import { AnswerTooLarge } from '../../upstream.ts'
import { formatBytes } from '../../../lib/bytes.ts'
import { reasoningOf } from '../chat-answer.ts'
import { isRecord, text, type Json } from './json.ts'
import { customInput, type OfferedTool, type ToolNames } from './tools.ts'
import { responseObject, type ResponseShell } from './response-object.ts'

interface TextItem {
  index: number
  id: string
  text: string
}

interface CallItem {
  index: number
  id: string
  callId: string
  tool: OfferedTool | undefined
  upstreamName: string
  args: string
  opened: boolean
}

/**
 * Turns chat completion chunks into the Responses event sequence, one chunk at a time, and
 * keeps the `response` object they build. Text becomes a `message` item, `reasoning_content` a
 * `reasoning` item (as `reasoning_text` content), each tool call a `function_call` (with its
 * namespace apart) or, for a freeform tool, a `custom_tool_call`. Every event carries the next
 * `sequence_number`. Items are closed (`…done`, `output_item.done` with the whole item, which
 * is all Codex reads) when the answer finishes; then `response.completed`, or
 * `response.incomplete` when the upstream stopped for length.
 *
 * A whole (non-streamed) answer runs through the same machine as one chunk, so both shapes
 * always agree.
 *
 * It holds the whole answer's text (for the closing events, the `response` object and kept
 * responses): past `maxHeldBytes` a chunk throws AnswerTooLarge before any of it is taken, and
 * the relay ends the stream with `fail`.
 */
export class ResponseWriter {
  private seq = 0
  private started = false
  private ended = false
  private readonly output: Json[] = []
  private message: TextItem | undefined
  private reasoning: TextItem | undefined
  private readonly calls = new Map<number, CallItem>()
  private finishReason: string | undefined
  private usage: Json | undefined
  private status: 'in_progress' | 'completed' | 'incomplete' | 'failed' = 'in_progress'
  private error: Json | undefined
  private held = 0

  constructor(
    private readonly shell: ResponseShell,
    private readonly names: ToolNames,
    private readonly maxHeldBytes = Number.POSITIVE_INFINITY,
  ) {}

  get finished(): boolean {
    return this.ended
  }

  /** `response.created` and `response.in_progress`, once. */
  start(): string {
    if (this.started) return ''
    this.started = true
    const response = this.snapshot()
    return this.emit('response.created', { response }) + this.emit('response.in_progress', { response })
  }

  /** One chat completion chunk (or a whole answer as a chunk) → events. */
  chunk(chunk: Json): string {
    if (this.ended) return ''
    const choice = Array.isArray(chunk.choices) && isRecord(chunk.choices[0]) ? chunk.choices[0] : undefined
    const delta = choice && (isRecord(choice.delta) ? choice.delta : isRecord(choice.message) ? choice.message : undefined)
    if (delta) this.hold(delta)
    let out = this.start()
    if (isRecord(chunk.error)) return out + this.fail(text(chunk.error.message) ?? 'the upstream reported an error', text(chunk.error.code))
    if (typeof chunk.model === 'string' && chunk.model) this.shell.model = chunk.model
    if (isRecord(chunk.usage)) this.usage = chunk.usage
    if (delta) {
      const reasoning = reasoningOf(delta)
      if (reasoning) out += this.reasoningDelta(reasoning)
      const content = text(delta.content)
      if (content) out += this.textDelta(content)
      if (Array.isArray(delta.tool_calls)) for (const [position, call] of delta.tool_calls.entries()) if (isRecord(call)) out += this.callDelta(call, position)
    }
    if (typeof choice?.finish_reason === 'string') this.finishReason = choice.finish_reason
    return out
  }

  /** Counts the text a delta adds to what is held; throws, holding nothing of it, past the limit. */
  private hold(delta: Json): void {
    let size = Buffer.byteLength(reasoningOf(delta)) + Buffer.byteLength(text(delta.content) ?? '')
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) if (isRecord(call) && isRecord(call.function)) size += Buffer.byteLength(text(call.function.arguments) ?? '')
    }
    if (this.held + size > this.maxHeldBytes) throw new AnswerTooLarge(`the answer is over the ${formatBytes(this.maxHeldBytes)} limit (QWENAUTH_MAX_ANSWER_BYTES)`)
    this.held += size
  }

  /** Whether the upstream said why it stopped (so an end without `[DONE]` still completes). */
  get sawFinish(): boolean {
    return this.finishReason !== undefined
  }

  /** The answer is whole: close every item, then `response.completed` (or `.incomplete`). */
  finish(): string {
    if (this.ended) return ''
    let out = this.start() + this.closeText('reasoning') + this.closeText('message')
    for (const call of [...this.calls.values()].sort((a, b) => a.index - b.index)) out += this.closeCall(call)
    this.ended = true
    const incomplete = this.finishReason === 'length' || this.finishReason === 'content_filter'
    this.status = incomplete ? 'incomplete' : 'completed'
    return out + this.emit(incomplete ? 'response.incomplete' : 'response.completed', { response: this.snapshot() })
  }

  /** The upstream broke or reported an error: `response.failed`, which Codex retries. */
  fail(message: string, code = 'server_error'): string {
    if (this.ended) return ''
    const out = this.start()
    this.ended = true
    this.status = 'failed'
    this.error = { code, message }
    return out + this.emit('response.failed', { response: this.snapshot() })
  }

  /** The `response` object as it stands. */
  snapshot(): Json {
    return responseObject(this.shell, {
      status: this.status,
      output: this.output.filter(Boolean),
      usage: this.status === 'in_progress' ? undefined : this.usage,
      finishReason: this.finishReason,
      error: this.error,
    })
  }

  private emit(type: string, fields: Json): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: this.seq++ })}\n\n`
  }

  private nextIndex(): number {
    this.output.push(undefined as unknown as Json)
    return this.output.length - 1
  }

  private itemId(prefix: string, index: number): string {
    return `${prefix}_${this.shell.id.slice('resp_'.length)}_${index}`
  }

  private reasoningDelta(delta: string): string {
    let out = ''
    if (!this.reasoning) {
      out += this.closeText('message')
      const index = this.nextIndex()
      this.reasoning = { index, id: this.itemId('rs', index), text: '' }
      out += this.emit('response.output_item.added', { output_index: index, item: { type: 'reasoning', id: this.reasoning.id, summary: [] } })
      out += this.emit('response.content_part.added', { item_id: this.reasoning.id, output_index: index, content_index: 0, part: { type: 'reasoning_text', text: '' } })
    }
    this.reasoning.text += delta
    return out + this.emit('response.reasoning_text.delta', { item_id: this.reasoning.id, output_index: this.reasoning.index, content_index: 0, delta })
  }

  private textDelta(delta: string): string {
    let out = ''
    if (!this.message) {
      out += this.closeText('reasoning')
      const index = this.nextIndex()
      this.message = { index, id: this.itemId('msg', index), text: '' }
      out += this.emit('response.output_item.added', { output_index: index, item: { type: 'message', id: this.message.id, status: 'in_progress', role: 'assistant', content: [] } })
      out += this.emit('response.content_part.added', { item_id: this.message.id, output_index: index, content_index: 0, part: outputText('') })
    }
    this.message.text += delta
    return out + this.emit('response.output_text.delta', { item_id: this.message.id, output_index: this.message.index, content_index: 0, delta, logprobs: [] })
  }

  private callDelta(delta: Json, position: number): string {
    const key = typeof delta.index === 'number' ? delta.index : position
    const fn = isRecord(delta.function) ? delta.function : {}
    let call = this.calls.get(key)
    let out = ''
    if (!call) {
      out += this.closeText('reasoning') + this.closeText('message')
      const index = this.nextIndex()
      call = { index, id: '', callId: '', tool: undefined, upstreamName: '', args: '', opened: false }
      this.calls.set(key, call)
    }
    if (!call.callId && text(delta.id)) call.callId = text(delta.id) as string
    // The name comes once, in the call's first chunk; some upstreams repeat it, never split it.
    if (!call.upstreamName && text(fn.name)) call.upstreamName = text(fn.name) as string
    const args = text(fn.arguments) ?? ''
    if (!call.opened && call.upstreamName) {
      call.opened = true
      call.tool = this.names.offered(call.upstreamName)
      call.callId ||= `call_${this.shell.id.slice('resp_'.length)}_${call.index}`
      call.id = this.itemId(call.tool.kind === 'custom' ? 'ctc' : 'fc', call.index)
      out += this.emit('response.output_item.added', { output_index: call.index, item: this.callItem(call, 'in_progress', true) })
      const pending = call.args + args
      call.args = pending
      if (pending && call.tool.kind === 'function') out += this.emit('response.function_call_arguments.delta', { item_id: call.id, output_index: call.index, delta: pending })
      return out
    }
    call.args += args
    // A freeform tool's input is the `input` string inside the JSON arguments: it is decoded
    // once the arguments are whole.
    if (call.opened && args && call.tool?.kind === 'function') out += this.emit('response.function_call_arguments.delta', { item_id: call.id, output_index: call.index, delta: args })
    return out
  }

  private closeText(kind: 'message' | 'reasoning'): string {
    const item = this[kind]
    if (!item) return ''
    this[kind] = undefined
    const base = { item_id: item.id, output_index: item.index, content_index: 0 }
    if (kind === 'reasoning') {
      const part = { type: 'reasoning_text', text: item.text }
      const done = { type: 'reasoning', id: item.id, summary: [], content: [part] }
      this.output[item.index] = done
      return (
        this.emit('response.reasoning_text.done', { ...base, text: item.text }) +
        this.emit('response.content_part.done', { ...base, part }) +
        this.emit('response.output_item.done', { output_index: item.index, item: done })
      )
    }
    const part = outputText(item.text)
    const done = { type: 'message', id: item.id, status: 'completed', role: 'assistant', content: [part] }
    this.output[item.index] = done
    return (
      this.emit('response.output_text.done', { ...base, text: item.text, logprobs: [] }) +
      this.emit('response.content_part.done', { ...base, part }) +
      this.emit('response.output_item.done', { output_index: item.index, item: done })
    )
  }

  private closeCall(call: CallItem): string {
    // A call whose name never came cannot be answered by the client; it is left out.
    if (!call.opened || !call.tool) return ''
    const item = this.callItem(call, 'completed', false)
    this.output[call.index] = item
    const base = { item_id: call.id, output_index: call.index }
    const done =
      call.tool.kind === 'custom'
        ? this.emit('response.custom_tool_call_input.delta', { ...base, delta: item.input }) + this.emit('response.custom_tool_call_input.done', { ...base, input: item.input })
        : this.emit('response.function_call_arguments.done', { ...base, name: call.tool.name, arguments: call.args })
    return done + this.emit('response.output_item.done', { output_index: call.index, item })
  }

  private callItem(call: CallItem, status: 'in_progress' | 'completed', opening: boolean): Json {
    const tool = call.tool as OfferedTool
    if (tool.kind === 'custom') {
      return { type: 'custom_tool_call', id: call.id, call_id: call.callId, name: tool.name, input: opening ? '' : customInput(call.args), ...(tool.namespace ? { namespace: tool.namespace } : {}) }
    }
    return { type: 'function_call', id: call.id, call_id: call.callId, name: tool.name, ...(tool.namespace ? { namespace: tool.namespace } : {}), arguments: opening ? '' : call.args, status }
  }
}

function outputText(value: string): Json {
  return { type: 'output_text', text: value, annotations: [], logprobs: [] }
}
