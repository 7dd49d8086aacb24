import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { DEFAULTS } from '../defaults.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { retryDelay, sleep, type AcquireOptions, type Locker, type Release } from './locker.ts'

/** Only the owner may delete or extend: compare the token and act in one atomic step. */
export const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`

/** A refresh may take 3 × 30 s with retries; the holder extends the lock all that time. */
const MAX_WAIT_MS = 120_000

/**
 * `SET key token NX PX ttl`: a holder that dies (SIGKILL, lost machine) stops extending and
 * its lock expires after `ttl`. While held, the lock is extended every ttl/3, so a slow
 * refresh keeps it. If Redis is unreachable, acquiring fails: no refresh without the lock.
 */
export function createRedisLocker(client: () => Promise<Redis>, prefix: string, ttlMs: number = DEFAULTS.redisLockTtlMs): Locker {
  return {
    async acquire(name: string, options: AcquireOptions = {}): Promise<Release | undefined> {
      const redis = await client()
      const key = `${prefix}:lock:${name}`
      const token = randomUUID()
      const deadline = Date.now() + MAX_WAIT_MS
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') return hold(redis, key, token, ttlMs)
        await sleep(retryDelay(attempt), options.signal)
        if (options.shouldStop && (await options.shouldStop())) return undefined
      }
      throw new QwenauthError(`timed out waiting for the Redis lock ${key}: another instance holds it`, ExitCode.lockTimeout)
    },
  }
}

function hold(redis: Redis, key: string, token: string, ttlMs: number): Release {
  const timer = setInterval(() => {
    redis.eval(EXTEND, 1, key, token, String(ttlMs)).catch(() => {})
  }, Math.max(100, Math.floor(ttlMs / 3)))
  timer.unref?.()
  let released = false
  return async () => {
    if (released) return
    released = true
    clearInterval(timer)
    await redis.eval(RELEASE_SCRIPT, 1, key, token).catch(() => {})
  }
}
