/**
 * Stop sequences, applied by qwenauth on translated accounts: a chat upstream stops at them but
 * never says which one matched, and Anthropic clients are told (`stop_sequence`). So the
 * upstream is not given them; the text is cut here at the first one.
 */
export interface StopHit {
  /** Index in the text where the sequence starts: the answer ends just before it. */
  at: number
  sequence: string
}

/** The earliest stop sequence in the text (the longest, where several start at one place). */
export function findStop(text: string, sequences: readonly string[]): StopHit | undefined {
  let hit: StopHit | undefined
  for (const sequence of sequences) {
    const at = text.indexOf(sequence)
    if (at !== -1 && (!hit || at < hit.at || (at === hit.at && sequence.length > hit.sequence.length))) hit = { at, sequence }
  }
  return hit
}

/**
 * Streamed text checked against stop sequences as it comes: everything is passed on at once
 * except the last few characters that could be the start of a sequence split across chunks.
 */
export class StopScanner {
  private held = ''
  private readonly longest: number

  constructor(private readonly sequences: readonly string[]) {
    this.longest = Math.max(0, ...sequences.map((s) => s.length))
  }

  /** Text safe to send now, and the sequence if one matched (nothing after it is sent). */
  push(piece: string): { text: string; hit?: string } {
    if (this.sequences.length === 0) return { text: piece }
    const text = this.held + piece
    const hit = findStop(text, this.sequences)
    if (hit) {
      this.held = ''
      return { text: text.slice(0, hit.at), hit: hit.sequence }
    }
    const keep = Math.min(text.length, this.longest - 1)
    this.held = text.slice(text.length - keep)
    return { text: text.slice(0, text.length - keep) }
  }

  /** What is still held back when the text ends without a match. */
  flush(): string {
    const rest = this.held
    this.held = ''
    return rest
  }
}
