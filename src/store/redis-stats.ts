import type { Redis } from 'ioredis'
import { createBufferedStatsStore, emptyStats, type AccountStats, type StatsStore } from './stats.ts'
import { isStale } from './usage-windows.ts'

const COUNTERS = ['requests', 'failures', 'promptTokens', 'completionTokens'] as const
/** Usage buckets share the account's hash, each a field `u:<bucket>.<r|t>`. */
const USAGE = 'u:'
/** How often one instance sweeps an account's hash for buckets that left every window. */
const PRUNE_EVERY_MS = 10 * 60_000

/**
 * Counters on Redis: one hash per account, `<prefix>:stats:<id>`. Every instance adds its
 * deltas with HINCRBY (atomic), so counts from many `serve` processes never overwrite each
 * other. The hot path only touches memory; deltas go out every `flushMs` and on close. Usage
 * buckets that left every window are deleted by whichever instance reads or sweeps them, so a
 * hash holds about a month of day buckets and five hours of finer ones.
 */
export function createRedisStatsStore(client: () => Promise<Redis>, prefix: string, options: { flushMs?: number; now?: () => number } = {}): StatsStore {
  const now = options.now ?? Date.now
  const hashKey = (id: string) => `${prefix}:stats:${id}`
  const prunedAt = new Map<string, number>()
  const write = async (batch: Map<string, AccountStats>) => {
    const redis = await client()
    const multi = redis.multi()
    for (const [id, delta] of batch) {
      for (const field of COUNTERS) if (delta[field]) multi.hincrby(hashKey(id), field, delta[field])
      for (const [bucket, n] of Object.entries(delta.usage ?? {})) if (n) multi.hincrby(hashKey(id), USAGE + bucket, n)
      if (delta.lastUsedAt) multi.hset(hashKey(id), 'lastUsedAt', String(delta.lastUsedAt))
      if (delta.lastError) multi.hset(hashKey(id), 'lastError', JSON.stringify(delta.lastError))
    }
    await multi.exec()
    for (const id of batch.keys()) {
      if (now() - (prunedAt.get(id) ?? 0) < PRUNE_EVERY_MS) continue
      prunedAt.set(id, now())
      await deleteStale(redis, hashKey(id), await redis.hkeys(hashKey(id)), now())
    }
  }
  const readStored = async () => readRedisStats(await client(), prefix, now())
  return createBufferedStatsStore({ write, readStored, where: 'Redis' }, options.flushMs ?? 1000)
}

export async function readRedisStats(redis: Redis, prefix: string, now = Date.now()): Promise<Record<string, AccountStats>> {
  const out: Record<string, AccountStats> = {}
  const keyPrefix = `${prefix}:stats:`
  let cursor = '0'
  for (let round = 0; round < 1000; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 100)
    for (const key of keys) {
      const hash = await redis.hgetall(key)
      const stats = emptyStats()
      for (const field of COUNTERS) stats[field] = Number(hash[field] ?? 0)
      if (hash.lastUsedAt) stats.lastUsedAt = Number(hash.lastUsedAt)
      if (hash.lastError) stats.lastError = JSON.parse(hash.lastError) as AccountStats['lastError']
      const stale: string[] = []
      for (const [field, value] of Object.entries(hash)) {
        if (!field.startsWith(USAGE)) continue
        if (isStale(field.slice(USAGE.length), now)) stale.push(field)
        else (stats.usage ??= {})[field.slice(USAGE.length)] = Number(value)
      }
      await deleteStale(redis, key, stale, now)
      out[key.slice(keyPrefix.length)] = stats
    }
    cursor = next
    if (cursor === '0') break
  }
  return out
}

async function deleteStale(redis: Redis, key: string, fields: string[], now: number): Promise<void> {
  const stale = fields.filter((f) => f.startsWith(USAGE) && isStale(f.slice(USAGE.length), now))
  if (stale.length > 0) await redis.hdel(key, ...stale)
}
