import type { Context } from '../context.ts'
import { createRedisStatsStore, readRedisStats } from './redis-stats.ts'
import { createFileStatsStore, readStats, type AccountStats, type StatsStore } from './stats.ts'

/** The counters of the context's store: a file beside the accounts, or hashes on Redis. */
export function openStatsStore(ctx: Context, options: { flushMs?: number } = {}): StatsStore {
  return ctx.redis ? createRedisStatsStore(ctx.redis.client, ctx.redis.prefix, options) : createFileStatsStore(ctx, options)
}

export async function readAllStats(ctx: Context): Promise<Record<string, AccountStats>> {
  return ctx.redis ? readRedisStats(await ctx.redis.client(), ctx.redis.prefix) : readStats(ctx.storage)
}
