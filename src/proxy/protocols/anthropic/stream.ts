import type { StreamTranslator } from '../protocol.ts'
import { sseEvent } from './events.ts'
import { isRecord, type Json } from './request.ts'
import { reasoningOf } from '../chat-answer.ts'
import { messageId, stopReasonOf, toolUseId, usageOf } from './response.ts'
import { StopScanner } from './stop-sequences.ts'

type OpenBlock = { kind: 'text' | 'thinking'; index: number } | { kind: 'tool'; index: number }

const PING = sseEvent('ping', {})

/** What the client is told when the upstream's stream ends before the answer is. */
export const ENDED_EARLY = 'the upstream ended the stream before the answer was finished; retry the request'

/**
 * A streamed chat completion as Anthropic's event sequence, one upstream chunk at a time:
 * `message_start`; per block `content_block_start`, its deltas (`thinking_delta`, `text_delta`,
 * `input_json_delta`) and `content_block_stop`; then `message_delta` (stop reason, usage) and
 * `message_stop`. Blocks follow one another: a new kind of delta closes the open block. Only
 * text that could begin a stop sequence split across chunks is held back.
 */
export class AnthropicStreamTranslator implements StreamTranslator {
  private started = false
  private done = false
  private open: OpenBlock | undefined
  private blocks = 0
  /** Upstream tool-call index → block index. */
  private readonly tools = new Map<number, number>()
  private finishReason: unknown
  private stopSequence: string | undefined
  private usage: unknown
  private readonly scanner: StopScanner

  constructor(stopSequences: readonly string[]) {
    this.scanner = new StopScanner(stopSequences)
  }

  event(data: string): string {
    if (this.done) return ''
    if (data.trim() === '[DONE]') return this.finish()
    let chunk: unknown
    try {
      chunk = JSON.parse(data)
    } catch {
      return ''
    }
    if (!isRecord(chunk)) return ''
    let out = this.started ? '' : this.start(chunk)
    if (isRecord(chunk.error)) {
      this.done = true
      const message = typeof chunk.error.message === 'string' ? chunk.error.message : 'the upstream reported an error mid-stream'
      return out + sseEvent('error', { error: { type: 'api_error', message } })
    }
    if (isRecord(chunk.usage)) this.usage = chunk.usage
    const choice = Array.isArray(chunk.choices) && isRecord(chunk.choices[0]) ? chunk.choices[0] : undefined
    if (!choice) return out
    const delta = isRecord(choice.delta) ? choice.delta : {}
    const reasoning = reasoningOf(delta)
    if (reasoning) out += this.thinking(reasoning)
    if (typeof delta.content === 'string' && delta.content !== '') {
      out += this.text(delta.content)
      if (this.done) return out
    }
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isRecord(call)) out += this.toolCall(call)
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason
      // The blocks are whole now; the stop reason waits for the usage that follows.
      out += this.releaseText() + this.close()
    }
    return out
  }

  /**
   * The upstream's body ended. Without a finish reason or `[DONE]` the answer may be cut (a hop
   * that closed the stream on its own timeout): the client gets an error, not a message that
   * looks whole, as the Responses translation does.
   */
  end(): string {
    if (this.done) return ''
    const opening = this.started ? '' : this.start({})
    if (this.finishReason === undefined) {
      this.done = true
      return opening + sseEvent('error', { error: { type: 'api_error', message: ENDED_EARLY } })
    }
    return opening + this.finish()
  }

  failure(event: string): string {
    return this.done ? '' : event
  }

  keepAlive(): string {
    return this.done ? '' : PING
  }

  finished(): boolean {
    return this.done
  }

  private start(chunk: Json): string {
    this.started = true
    const message = {
      id: messageId(chunk.id),
      type: 'message',
      role: 'assistant',
      model: typeof chunk.model === 'string' ? chunk.model : '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // Chat APIs report usage only at the end: it comes in message_delta.
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    }
    return sseEvent('message_start', { message })
  }

  private begin(block: Json, kind: OpenBlock['kind']): string {
    const index = this.blocks++
    this.open = { kind, index }
    return sseEvent('content_block_start', { index, content_block: block })
  }

  private close(): string {
    if (!this.open) return ''
    const index = this.open.index
    this.open = undefined
    return sseEvent('content_block_stop', { index })
  }

  private delta(index: number, delta: Json): string {
    return sseEvent('content_block_delta', { index, delta })
  }

  private thinking(piece: string): string {
    let out = ''
    if (this.open?.kind !== 'thinking') out += this.releaseText() + this.close() + this.begin({ type: 'thinking', thinking: '', signature: '' }, 'thinking')
    return out + this.delta((this.open as OpenBlock).index, { type: 'thinking_delta', thinking: piece })
  }

  private emitText(text: string): string {
    if (!text) return ''
    let out = ''
    if (this.open?.kind !== 'text') out += this.close() + this.begin({ type: 'text', text: '' }, 'text')
    return out + this.delta((this.open as OpenBlock).index, { type: 'text_delta', text })
  }

  private text(piece: string): string {
    const { text, hit } = this.scanner.push(piece)
    let out = this.emitText(text)
    if (hit) {
      this.stopSequence = hit
      out += this.finish()
    }
    return out
  }

  /** Text held back for a possible stop sequence, sent now that none can follow it. */
  private releaseText(): string {
    return this.emitText(this.scanner.flush())
  }

  private toolCall(call: Json): string {
    const key = typeof call.index === 'number' ? call.index : 0
    const fn = isRecord(call.function) ? call.function : {}
    let out = ''
    let index = this.tools.get(key)
    if (index === undefined) {
      out += this.releaseText() + this.close() + this.begin({ type: 'tool_use', id: toolUseId(call.id), name: typeof fn.name === 'string' ? fn.name : '', input: {} }, 'tool')
      index = (this.open as OpenBlock).index
      this.tools.set(key, index)
    }
    // A fragment for a call whose block is already closed (providers stream calls one by one)
    // still goes to that call's block: clients collect deltas by index.
    if (typeof fn.arguments === 'string' && fn.arguments !== '') out += this.delta(index, { type: 'input_json_delta', partial_json: fn.arguments })
    return out
  }

  private finish(): string {
    if (this.done) return ''
    let out = this.releaseText() + this.close()
    // Claude Code takes a stream without any content block for a failed one.
    if (this.blocks === 0) out += this.begin({ type: 'text', text: '' }, 'text') + this.close()
    this.done = true
    const stopReason = this.stopSequence !== undefined ? 'stop_sequence' : stopReasonOf(this.finishReason, this.tools.size > 0)
    const usage = usageOf(this.usage)
    out += sseEvent('message_delta', { delta: { stop_reason: stopReason, stop_sequence: this.stopSequence ?? null }, usage })
    return out + sseEvent('message_stop', {})
  }
}
