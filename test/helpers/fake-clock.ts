import type { Clock } from '../../src/lib/clock.ts'

/** A clock whose sleeps return at once and move its time on: protocol waits cost nothing. */
export interface FakeClock extends Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly slept: number[]
  advance(ms: number): void
}

export function fakeClock(start = Date.now()): FakeClock {
  let now = start
  const slept: number[] = []
  return {
    slept,
    now: () => now,
    advance(ms) {
      now += ms
    },
    async sleep(ms, signal) {
      signal?.throwIfAborted()
      slept.push(ms)
      now += ms
    },
  }
}
