/**
 * A named mutual-exclusion lock across processes (and, on Redis, across machines).
 * `shouldStop` is asked between tries so a waiter can give up early once the holder has
 * done the work it was waiting to do (another process refreshed the token).
 */
export interface AcquireOptions {
  signal?: AbortSignal
  shouldStop?: () => Promise<boolean>
}

export type Release = () => Promise<void>

export interface Locker {
  /** Resolves to a release function, or undefined when `shouldStop` said the wait is over. */
  acquire(name: string, options?: AcquireOptions): Promise<Release | undefined>
}

/** The official CLI's wait schedule: 100 ms, ×1.5 a try, at most 2 s, 20 tries. */
export const LOCK_RETRY = { firstDelayMs: 100, factor: 1.5, maxDelayMs: 2000, tries: 20 } as const

/** How far a wait may stray from the schedule, either way. */
const SPREAD = 0.25

/**
 * The wait before try `attempt + 1`: the schedule's, spread ±25 % at random. Waiters that
 * started together and waited in step would all wake at once: one takes the lock, the others
 * find it held and wait a whole round again, one waiter through per round (14 of them behind
 * a lock held for milliseconds: 15 s).
 */
export function retryDelay(attempt: number): number {
  const scheduled = Math.min(LOCK_RETRY.firstDelayMs * LOCK_RETRY.factor ** attempt, LOCK_RETRY.maxDelayMs)
  return scheduled * (1 - SPREAD + 2 * SPREAD * Math.random())
}

export { sleep } from '../lib/clock.ts'
