import type { Redis } from 'ioredis'
import { createStorage, defineDriver, type Driver, type Storage } from 'unstorage'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'

export interface RedisBackend {
  storage: Storage
  /** Every key of this store starts with `<prefix>:`. */
  prefix: string
  /** The connection the storage driver uses, for locks and counters. */
  client: () => Promise<Redis>
  /** True while a connection that worked is lost (the loss is logged once, here). */
  offline: () => boolean
  close: () => Promise<void>
}

/** `redis://[user:pass@]host:port[/db]` without the credentials, for messages. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
  } catch {
    return 'the configured Redis URL'
  }
}

/**
 * The store on Redis through unstorage's redis driver, every key under `prefix`. The driver
 * (and ioredis) load on first use, so file-backed commands never pay for them. Commands fail
 * at once while Redis is away instead of queueing, so `serve` keeps going with the tokens it
 * holds; ioredis reconnects in the background and each outage is logged once.
 */
export function createRedisBackend(url: string, prefix: string): RedisBackend {
  const where = describeRedisUrl(url)
  let loading: Promise<Driver> | undefined
  let driver: Driver | undefined
  const connection = { down: false, closing: false }

  const load = () =>
    (loading ??= (async () => {
      const { default: redisDriver } = await import('unstorage/drivers/redis')
      const d = redisDriver({
        url,
        base: prefix,
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 3000,
        retryStrategy: (times: number) => Math.min(200 * times, 2000),
      })
      const redis = d.getInstance!() as Redis
      watchConnection(redis, where, connection)
      try {
        await redis.connect()
      } catch (error) {
        redis.disconnect()
        throw new QwenauthError(`cannot reach Redis at ${where}: ${(error as Error).message}`, ExitCode.network)
      }
      driver = d
      return d
    })())

  /** While the connection is down, ioredis fails commands with its own words; say what is meant. */
  const call = async <T>(work: (d: Driver) => T | Promise<T>): Promise<T> => {
    const d = await load()
    try {
      return await work(d)
    } catch (error) {
      if (!connection.down) throw error
      throw new QwenauthError(`Redis at ${where} is unreachable (${(error as Error).message})`, ExitCode.network)
    }
  }

  const storage = createStorage({
    driver: defineDriver((_options: undefined) => ({
      name: 'qwenauth-redis',
      hasItem: (key: string) => call((d) => d.hasItem(key, {})),
      getItem: (key: string) => call((d) => d.getItem(key, {})),
      setItem: (key: string, value: string) => call((d) => d.setItem!(key, value, {})),
      removeItem: (key: string) => call((d) => d.removeItem!(key, {})),
      getKeys: (base: string) => call((d) => d.getKeys(base, {})),
      clear: (base: string) => call((d) => d.clear!(base, {})),
    }))(undefined),
  })

  return {
    storage,
    prefix,
    client: async () => (await load()).getInstance!() as Redis,
    offline: () => connection.down,
    close: async () => {
      const redis = driver?.getInstance?.() as Redis | undefined
      driver = undefined
      // Our own quit is no outage: nothing to report.
      connection.closing = true
      if (redis) await redis.quit().catch(() => redis.disconnect())
    },
  }
}

function watchConnection(redis: Redis, where: string, state: { down: boolean; closing: boolean }): void {
  let connected = false
  redis.on('error', () => {}) // reported once through the state changes below
  redis.on('ready', () => {
    if (state.down) logger.info(`reconnected to Redis at ${where}`)
    connected = true
    state.down = false
  })
  redis.on('close', () => {
    if (!connected || state.down || state.closing) return
    state.down = true
    logger.warn(`lost the connection to Redis at ${where}; going on with the tokens held, retrying in the background`)
  })
}
