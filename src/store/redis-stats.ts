import type { Redis } from 'ioredis'
import { createBufferedStatsStore, emptyStats, type AccountStats, type StatsStore } from './stats.ts'

const COUNTERS = ['requests', 'failures', 'promptTokens', 'completionTokens'] as const

/**
 * Counters on Redis: one hash per account, `<prefix>:stats:<id>`. Every instance adds its
 * deltas with HINCRBY (atomic), so counts from many `serve` processes never overwrite each
 * other. The hot path only touches memory; deltas go out every `flushMs` and on close.
 */
export function createRedisStatsStore(client: () => Promise<Redis>, prefix: string, options: { flushMs?: number } = {}): StatsStore {
  const hashKey = (id: string) => `${prefix}:stats:${id}`
  const write = async (batch: Map<string, AccountStats>) => {
    const multi = (await client()).multi()
    for (const [id, delta] of batch) {
      for (const field of COUNTERS) if (delta[field]) multi.hincrby(hashKey(id), field, delta[field])
      if (delta.lastUsedAt) multi.hset(hashKey(id), 'lastUsedAt', String(delta.lastUsedAt))
      if (delta.lastError) multi.hset(hashKey(id), 'lastError', JSON.stringify(delta.lastError))
    }
    await multi.exec()
  }
  const readStored = async () => readRedisStats(await client(), prefix)
  return createBufferedStatsStore({ write, readStored, where: 'Redis' }, options.flushMs ?? 1000)
}

export async function readRedisStats(redis: Redis, prefix: string): Promise<Record<string, AccountStats>> {
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
      out[key.slice(keyPrefix.length)] = stats
    }
    cursor = next
    if (cursor === '0') break
  }
  return out
}
