import type { Redis } from 'ioredis'
import { logger } from '../../../lib/logger.ts'
import type { AppServices } from '../protocol.ts'
import type { Json } from './json.ts'

/** A finished response and the conversation it answered, for `previous_response_id`. */
export interface KeptResponse {
  /** The `response` object as the client got it. */
  response: Json
  /** The conversation before its output: the earlier turns and the request's own input. */
  input: Json[]
  /** The client key that made it (`clientIdentity`): only that key reads or continues it. */
  owner?: string
}

export interface KeptResponses {
  get(id: string): Promise<KeptResponse | undefined>
  put(kept: KeptResponse): Promise<void>
  /** Where they are kept, for messages. */
  readonly where: string
}

export interface KeepLimits {
  count: number
  maxAgeMs: number
  maxBytes: number
  now: () => number
}

/**
 * The app's kept responses: on Redis when the store is (so any instance can continue any
 * conversation, and they outlive a restart), else in this process's memory. Each record holds
 * its whole conversation, so continuing one is a single read and a conversation lives as long
 * as its newest response. Bounded in count and age both ways; in memory also in bytes.
 */
export function keptResponses(app: AppServices): KeptResponses {
  return app.shared('responses:kept', () => {
    const limits = { ...app.settings.keptResponses, now: app.settings.now }
    const redis = app.ctx.redis
    return redis ? redisKept(redis.client, redis.prefix, limits) : memoryKept(limits)
  })
}

/**
 * The kept responses one client key sees: those it made. Another key's (a `serve` whose keys
 * were handed to different people) answer as never kept, so an id alone reads nothing.
 */
export function keptFor(store: KeptResponses, owner: string): KeptResponses {
  return {
    where: store.where,
    async get(id) {
      const kept = await store.get(id)
      return kept && (kept.owner ?? '') === owner ? kept : undefined
    },
    put: (kept) => store.put({ ...kept, owner }),
  }
}

export function memoryKept(limits: KeepLimits): KeptResponses {
  // Insertion order is age order: the oldest are always first.
  const records = new Map<string, { text: string; at: number }>()
  let bytes = 0
  const drop = (id: string) => {
    bytes -= records.get(id)?.text.length ?? 0
    records.delete(id)
  }
  return {
    where: 'in memory',
    async get(id) {
      const record = records.get(id)
      if (!record) return undefined
      if (limits.now() - record.at > limits.maxAgeMs) return void drop(id)
      return JSON.parse(record.text) as KeptResponse
    },
    async put(kept) {
      const id = String(kept.response.id)
      const text = JSON.stringify(kept)
      const now = limits.now()
      drop(id)
      records.set(id, { text, at: now })
      bytes += text.length
      for (const [oldId, record] of records) {
        // The newest is last: it stays even when it alone is over the byte limit.
        if (oldId === id) break
        if (records.size <= limits.count && bytes <= limits.maxBytes && now - record.at <= limits.maxAgeMs) break
        drop(oldId)
      }
    },
  }
}

/**
 * On Redis: `<prefix>:response:<id>` holds each record, expiring at its age limit, and the
 * sorted set `<prefix>:responses` orders them by time so the oldest beyond the count go.
 */
export function redisKept(client: () => Promise<Redis>, prefix: string, limits: KeepLimits): KeptResponses {
  const key = (id: string) => `${prefix}:response:${id}`
  const index = `${prefix}:responses`
  return {
    where: 'on Redis',
    async get(id) {
      const text = await (await client()).get(key(id))
      return text ? (JSON.parse(text) as KeptResponse) : undefined
    },
    async put(kept) {
      const id = String(kept.response.id)
      const redis = await client()
      const now = limits.now()
      const [, , , count] = ((await redis
        .multi()
        .set(key(id), JSON.stringify(kept), 'PX', Math.max(1, Math.round(limits.maxAgeMs)))
        .zadd(index, now, id)
        .zremrangebyscore(index, '-inf', now - limits.maxAgeMs)
        .zcard(index)
        .exec()) ?? []) as Array<[Error | null, unknown]>
      const excess = Number(count?.[1] ?? 0) - limits.count
      if (excess <= 0) return
      const oldest = await redis.zrange(index, 0, excess - 1)
      if (oldest.length > 0) await redis.multi().del(...oldest.map(key)).zrem(index, ...oldest).exec()
    },
  }
}

/** Keeps a response without holding up its answer; a store that fails is logged, and the answer still goes out. */
export function keepInBackground(store: KeptResponses, kept: KeptResponse): void {
  store.put(kept).catch((error: unknown) => logger.warn(`could not keep response ${String(kept.response.id)} ${store.where} for previous_response_id: ${(error as Error).message}`))
}
