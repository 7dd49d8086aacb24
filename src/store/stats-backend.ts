import type { Storage } from 'unstorage'
import type { Locker } from './locker.ts'
import type { RedisBackend } from './redis-backend.ts'
import { createRedisStatsStore, readRedisStats } from './redis-stats.ts'
import { createFileStatsStore, readStats, type AccountStats, type StatsStore } from './stats.ts'

/** Where a store keeps its counters: a directory's storage and locks, or Redis. */
export interface StatsHome {
  storage: Storage
  locker: Locker
  redis?: RedisBackend | undefined
}

/** The counters of the context's store: a file beside the accounts, or hashes on Redis. */
export function openStatsStore(ctx: StatsHome, options: { flushMs?: number; now?: () => number } = {}): StatsStore {
  return ctx.redis ? createRedisStatsStore(ctx.redis.client, ctx.redis.prefix, options) : createFileStatsStore(ctx, options)
}

export async function readAllStats(ctx: StatsHome): Promise<Record<string, AccountStats>> {
  return ctx.redis ? readRedisStats(await ctx.redis.client(), ctx.redis.prefix) : readStats(ctx.storage)
}
