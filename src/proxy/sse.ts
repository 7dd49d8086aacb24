import type { StreamTranslator } from './protocols/protocol.ts'
import { concat, eventData, EventFramer } from './sse-framing.ts'

export type RelayEnd =
  | { kind: 'complete' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cancelled' }

export interface RelayHooks {
  /**
   * Before each read of the upstream: from now on it owes an answer (arms the idle timeout).
   * Only then: while a slow client holds the relay back, the upstream is not silent.
   */
  onWaiting?(): void
  /** Every upstream chunk: the upstream answered (stops the idle timeout). */
  onActivity(): void
  /** Whole upstream events as they pass, for usage counting. */
  onEvents?(text: string): void
  /** Once: the upstream finished, broke, or the client left. */
  onEnd(end: RelayEnd): void
  /** The client left: stop the upstream request. */
  abortUpstream(reason: unknown): void
  /** The event a client sees when the upstream breaks mid-stream. */
  failureEvent(error: unknown): string
  /** Translates each event into the client's protocol; absent, events pass through byte for byte. */
  translator?: StreamTranslator
  /** How often a silent upstream gets the translator's keep-alive. */
  keepAliveMs?: number
  /** Largest event held while its end has not arrived; past it the stream fails (no limit when absent). */
  maxEventBytes?: number
}

const encoder = new TextEncoder()

/**
 * Passes an upstream SSE body on as it arrives. Whole events go out the moment their blank line
 * arrives; only an unfinished event's bytes wait for the rest of it, so if the upstream breaks
 * the client gets a well-formed error event, never half an event. Each byte is scanned and
 * copied once, however long an event grows.
 */
export function relaySse(reader: ReadableStreamDefaultReader<Uint8Array>, first: Uint8Array, hooks: RelayHooks): ReadableStream<Uint8Array> {
  const framer = new EventFramer(hooks.maxEventBytes)
  const decoder = new TextDecoder()
  const { translator } = hooks
  let ended = false
  // After `data: [DONE]` the answer is whole: a connection that breaks (or idles) then is no error.
  let sawDone = false
  let translatorFailure: unknown

  const end = (result: RelayEnd) => {
    if (ended) return
    ended = true
    hooks.onEnd(result)
  }
  /** The client's bytes for the complete events in this chunk, if any. */
  const pass = (chunk: Uint8Array): Uint8Array | undefined => {
    const events = framer.push(chunk)
    return events ? passEvents(events) : undefined
  }
  /** The client's bytes for these events (whole ones, or the unfinished last one at the end). */
  const passEvents = (events: Uint8Array): Uint8Array | undefined => {
    const text = decoder.decode(events)
    hooks.onEvents?.(text)
    if (!sawDone && DONE_LINE.test(text)) sawDone = true
    if (!translator) return events
    let out = ''
    try {
      if (translator.filter) {
        out = translator.filter(text)
        if (out === text) return events
      } else if (translator.event) for (const data of eventData(text)) out += translator.event(data)
    } catch (error) {
      // A translator that gave up (it would hold more than it may): the stream fails after
      // what it translated so far.
      translatorFailure ??= error
    }
    return out ? encoder.encode(out) : undefined
  }
  /** Why the stream cannot go on although the upstream still sends: an event or an answer too large. */
  const overflow = (): unknown => framer.failure ?? translatorFailure
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    const rest = framer.rest()
    if (rest) {
      if (!translator) controller.enqueue(rest)
      else {
        // A translator needs whole events; a filter passes the last one on as it came, so a
        // cut-off event does not get the blank line that would make it look whole.
        const tail = passEvents(translator.filter ? rest : concat([rest, encoder.encode('\n\n')]))
        if (tail) controller.enqueue(tail)
      }
    }
    if (overflow()) return fail(controller, overflow())
    const closing = translator?.end()
    if (closing) controller.enqueue(encoder.encode(closing))
    controller.close()
    end({ kind: 'complete' })
  }

  /** The upstream broke, or sent more than may be held: the client gets the protocol's error event. */
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, error: unknown) => {
    if (error === overflow()) {
      hooks.abortUpstream(error)
      reader.cancel(error).catch(() => {})
    }
    controller.enqueue(encoder.encode(translator?.failure?.(hooks.failureEvent(error)) ?? hooks.failureEvent(error)))
    controller.close()
    end({ kind: 'failed', error })
  }

  /** The translator has the client's whole answer: the rest of the upstream's is not needed. */
  const finishEarly = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    controller.close()
    end({ kind: 'complete' })
    hooks.abortUpstream(new DOMException('the client has its whole answer', 'AbortError'))
    reader.cancel().catch(() => {})
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const out = pass(first)
      if (out) controller.enqueue(out)
      if (overflow()) fail(controller, overflow())
      else if (translator?.finished?.()) finishEarly(controller)
    },
    async pull(controller) {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>
        hooks.onWaiting?.()
        const keepAlive = translator?.keepAlive && hooks.keepAliveMs ? setInterval(() => controller.enqueue(encoder.encode(translator.keepAlive?.() ?? '')), hooks.keepAliveMs) : undefined
        try {
          result = await reader.read()
        } catch (error) {
          if (ended) return
          if (sawDone) return finish(controller)
          return fail(controller, error)
        } finally {
          clearInterval(keepAlive)
        }
        if (ended) return
        if (result.done) return finish(controller)
        hooks.onActivity()
        const out = pass(result.value)
        if (out) controller.enqueue(out)
        if (overflow()) return fail(controller, overflow())
        if (translator?.finished?.()) return finishEarly(controller)
        if (out) return
      }
    },
    cancel(reason) {
      end({ kind: 'cancelled' })
      hooks.abortUpstream(reason)
      reader.cancel(reason).catch(() => {})
    },
  })
}

const DONE_LINE = /^data: ?\[DONE\]\r?$/m
