import { sseErrorEvent } from './errors.ts'
import { findUsage, type Usage } from './usage.ts'

export type RelayEnd =
  | { kind: 'complete'; usage: Usage | undefined }
  | { kind: 'failed'; error: unknown; usage: Usage | undefined }
  | { kind: 'cancelled'; usage: Usage | undefined }

export interface RelayHooks {
  /**
   * Before each read of the upstream: from now on it owes an answer (arms the idle timeout).
   * Only then: while a slow client holds the relay back, the upstream is not silent.
   */
  onWaiting?(): void
  /** Every upstream chunk: the upstream answered (stops the idle timeout). */
  onActivity(): void
  /** Once: the upstream finished, broke, or the client left. */
  onEnd(end: RelayEnd): void
  /** The client left: stop the upstream request. */
  abortUpstream(reason: unknown): void
  /** The text of the error event a client sees when the upstream breaks mid-stream. */
  failureMessage(error: unknown): string
}

/**
 * Passes an upstream SSE body through as it arrives. Whole events go out the moment their
 * blank line arrives; only an unfinished event's bytes wait for the rest of it, so if the
 * upstream breaks the client gets a well-formed error event, never half an event.
 */
export function relaySse(reader: ReadableStreamDefaultReader<Uint8Array>, first: Uint8Array, hooks: RelayHooks): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder()
  let tail: Uint8Array | undefined
  let usage: Usage | undefined
  let ended = false
  // After `data: [DONE]` the answer is whole: a connection that breaks (or idles) then is no error.
  let sawDone = false

  const end = (result: RelayEnd) => {
    if (ended) return
    ended = true
    hooks.onEnd(result)
  }
  /** The complete events in what arrived so far; the rest waits in `tail`. */
  const completeEvents = (chunk: Uint8Array): Uint8Array | undefined => {
    const data = tail ? Buffer.concat([tail, chunk]) : chunk
    const cut = lastEventEnd(data)
    tail = cut < data.length ? data.subarray(cut) : undefined
    if (cut === 0) return undefined
    const out = cut === data.length ? data : data.subarray(0, cut)
    const text = decoder.decode(out)
    if (text.includes('"usage"')) usage = findUsage(text) ?? usage
    if (!sawDone && DONE_LINE.test(text)) sawDone = true
    return out
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      const out = completeEvents(first)
      if (out) controller.enqueue(out)
    },
    async pull(controller) {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>
        hooks.onWaiting?.()
        try {
          result = await reader.read()
        } catch (error) {
          if (ended) return
          if (sawDone) {
            controller.close()
            return end({ kind: 'complete', usage })
          }
          controller.enqueue(new TextEncoder().encode(sseErrorEvent(hooks.failureMessage(error))))
          controller.close()
          return end({ kind: 'failed', error, usage })
        }
        if (ended) return
        if (result.done) {
          if (tail) controller.enqueue(tail)
          controller.close()
          return end({ kind: 'complete', usage })
        }
        hooks.onActivity()
        const out = completeEvents(result.value)
        if (out) return controller.enqueue(out)
      }
    },
    cancel(reason) {
      end({ kind: 'cancelled', usage })
      hooks.abortUpstream(reason)
      reader.cancel(reason).catch(() => {})
    },
  })
}

const DONE_LINE = /^data: ?\[DONE\]\r?$/m

/** Index just past the last event boundary (`\n\n`, `\r\r`, `\r\n\r\n`), or 0 when there is none. */
export function lastEventEnd(data: Uint8Array): number {
  for (let i = data.length - 1; i >= 1; i--) {
    const b = data[i]
    const prev = data[i - 1]
    if (b === 10 && (prev === 10 || (prev === 13 && i >= 3 && data[i - 2] === 10 && data[i - 3] === 13))) return i + 1
    if (b === 13 && prev === 13) return i + 1
  }
  return 0
}
