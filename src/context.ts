import type { Storage } from 'unstorage'
import { join, resolve } from 'pathe'
import { oauthBaseUrl } from './auth/oauth/constants.ts'
import { refreshGrant, refreshTimeoutMs } from './auth/oauth/refresh-grant.ts'
import { DEFAULTS } from './defaults.ts'
import type { Clock } from './lib/clock.ts'
import { envNumber } from './lib/env-number.ts'
import { KEYS, qwenHome } from './lib/paths.ts'
import { AccountStore } from './store/account-store.ts'
import { createFileLocker } from './store/file-lock.ts'
import type { Locker } from './store/locker.ts'
import { createRedisBackend, describeRedisUrl, type RedisBackend } from './store/redis-backend.ts'
import { createRedisLocker } from './store/redis-lock.ts'
import { createFileStorage } from './store/storage.ts'
import { checkStorageSpec } from './lib/storage-spec.ts'

/** What every command works with: where accounts live, how locks are taken, which OAuth server. */
export interface Context {
  /** QWEN_HOME, or the directory / Redis URL (without credentials) the store is in. */
  home: string
  storage: Storage
  locker: Locker
  accounts: AccountStore
  oauthUrl: string
  /** Set when the store is on Redis. */
  redis?: RedisBackend
  /** Waits for refreshes under way to be stored (bounded), then closes connections (Redis). */
  close(): Promise<void>
}

export function isRedisUrl(spec: string | undefined): spec is string {
  return Boolean(spec && /^rediss?:\/\//i.test(spec))
}

/**
 * The store is a directory (QWEN_HOME by default) or, with `QWENAUTH_STORAGE=redis://…`, a
 * Redis database shared by several machines. Only a directory store mirrors the active Qwen
 * OAuth account into oauth_creds.json: that file is for the official CLI on this machine.
 * `storageSpec` is a store named by a flag and already checked; else QWENAUTH_STORAGE (unset or
 * empty: QWEN_HOME), checked here so a typo there never becomes a directory.
 */
export function createContext(env: NodeJS.ProcessEnv = process.env, storageSpec?: string, options: { clock?: Clock } = {}): Context {
  if (storageSpec === undefined && env.QWENAUTH_STORAGE) storageSpec = checkStorageSpec(env.QWENAUTH_STORAGE, 'QWENAUTH_STORAGE')
  const oauthUrl = oauthBaseUrl(env)
  // The context's environment bounds the request and the exit's wait for it alike.
  const timeoutMs = refreshTimeoutMs(env)
  const grant = (refreshToken: string) => refreshGrant(oauthUrl, refreshToken, { timeoutMs })
  const storeOptions = { grant, refreshTimeoutMs: timeoutMs, ...options }
  if (isRedisUrl(storageSpec)) {
    const prefix = env.QWENAUTH_STORAGE_PREFIX || 'qwenauth'
    const redis = createRedisBackend(storageSpec, prefix)
    const locker = createRedisLocker(redis.client, prefix, envNumber(env, 'QWENAUTH_REDIS_LOCK_TTL_MS') || DEFAULTS.redisLockTtlMs)
    const where = `${describeRedisUrl(storageSpec)} (key ${prefix}:${KEYS.accounts})`
    const accounts = new AccountStore(redis.storage, locker, where, { mirrorCreds: false, ...storeOptions })
    // A refresh the server already acted on is stored before the connection goes.
    const close = () => accounts.settle().then(redis.close)
    return { home: describeRedisUrl(storageSpec), storage: redis.storage, locker, accounts, oauthUrl, redis, close }
  }
  const home = storageSpec ? resolve(storageSpec) : qwenHome(env)
  const storage = createFileStorage(home)
  const locker = createFileLocker(home, envNumber(env, 'QWENAUTH_LOCK_STALE_MS') || DEFAULTS.lockStaleMs)
  const where = join(home, KEYS.accounts.replace(/:/g, '/'))
  const accounts = new AccountStore(storage, locker, where, { mirrorCreds: true, ...storeOptions })
  return { home, storage, locker, accounts, oauthUrl, close: () => accounts.settle() }
}
