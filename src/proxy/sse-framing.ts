import { formatBytes } from '../lib/bytes.ts'

/** An upstream event that grew past the limit before its end arrived. */
export class EventTooLarge extends Error {
  override readonly name = 'EventTooLarge'
}

/**
 * Cuts a byte stream at event boundaries (`\n\n`, `\r\r`, `\r\n\r\n`). Only the newest chunk is
 * scanned, backwards, and the unfinished rest is kept as a list of chunks until a boundary
 * arrives, so a long event costs one copy, not one per chunk. An unfinished rest past
 * `maxEventBytes` is dropped and `failure` set (the complete events before it still come out):
 * an upstream that never ends its event is not held in memory without end.
 */
export class EventFramer {
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  /** Set once an event outgrew the limit; nothing is framed after it. */
  failure: EventTooLarge | undefined

  constructor(private readonly maxEventBytes = Number.POSITIVE_INFINITY) {}

  /** The complete events now in hand, or undefined while the newest one is unfinished. */
  push(chunk: Uint8Array): Uint8Array | undefined {
    if (this.failure) return undefined
    const cut = this.lastBoundary(chunk)
    if (cut === -1) {
      if (chunk.byteLength > 0) {
        this.pending.push(chunk)
        this.pendingBytes += chunk.byteLength
        this.checkSize()
      }
      return undefined
    }
    const head = chunk.subarray(0, cut)
    const events = this.pending.length === 0 ? head : concat([...this.pending, head])
    this.pending = cut < chunk.byteLength ? [chunk.subarray(cut)] : []
    this.pendingBytes = chunk.byteLength - cut
    this.checkSize()
    return events
  }

  private checkSize(): void {
    if (this.pendingBytes <= this.maxEventBytes) return
    this.pending = []
    this.pendingBytes = 0
    this.failure = new EventTooLarge(`an event grew past the ${formatBytes(this.maxEventBytes)} limit (QWENAUTH_MAX_EVENT_BYTES)`)
  }

  /** Bytes of an unfinished event (what an upstream sent after its last blank line). */
  rest(): Uint8Array | undefined {
    if (this.pendingBytes === 0) return undefined
    const rest = concat(this.pending)
    this.pending = []
    this.pendingBytes = 0
    return rest
  }

  /** Index in `chunk` just past the last boundary that ends in it, or -1. */
  private lastBoundary(chunk: Uint8Array): number {
    const at = (i: number): number | undefined => (i >= 0 ? chunk[i] : this.byteBefore(-i))
    for (let i = chunk.byteLength - 1; i >= 0; i--) {
      const b = chunk[i]
      if (b !== 10 && b !== 13) continue
      const prev = at(i - 1)
      if (b === 10 && (prev === 10 || (prev === 13 && at(i - 2) === 10 && at(i - 3) === 13))) return i + 1
      if (b === 13 && prev === 13) return i + 1
    }
    return -1
  }

  /** The n-th byte before the current chunk (1 = the last pending byte). */
  private byteBefore(n: number): number | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const part = this.pending[i] as Uint8Array
      if (n <= part.byteLength) return part[part.byteLength - n]
      n -= part.byteLength
    }
    return undefined
  }
}

/** The blank line that ends an event, in each line-ending style. */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/
/** Just after such a blank line. */
const AFTER_EVENT_END = new RegExp(`(?<=${EVENT_END.source})`)

/** Whole events in `text`, each as it came, the blank line that ends it kept on it. */
export function eventBlocks(text: string): string[] {
  return text.split(AFTER_EVENT_END)
}

/** The `data:` payload of each event in `text` (whole events), multi-line data joined by `\n`. */
export function eventData(text: string): string[] {
  const out: string[] = []
  for (const block of text.split(EVENT_END)) {
    let data: string | undefined
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (!line.startsWith('data:')) continue
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5)
      data = data === undefined ? value : `${data}\n${value}`
    }
    if (data !== undefined) out.push(data)
  }
  return out
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array
  let size = 0
  for (const p of parts) size += p.byteLength
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}
