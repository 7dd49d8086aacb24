import type { Storage } from 'unstorage'
import { logger } from '../lib/logger.ts'
import { KEYS, LOCK_NAMES } from '../lib/paths.ts'
import { readText, writeJson } from './json-item.ts'
import type { Locker } from './locker.ts'

/** What the proxy counted for one account, across every process that served with it. */
export interface AccountStats {
  requests: number
  failures: number
  promptTokens: number
  completionTokens: number
  lastError?: { message: string; at: number }
  lastUsedAt?: number
}

export type StatsDelta = Partial<AccountStats>

/**
 * Counters behind an interface small enough for a Redis implementation (HINCRBY per field).
 * `add` never waits: the hot path only touches memory.
 */
export interface StatsStore {
  add(id: string, delta: StatsDelta): void
  /** Writes what was added so far. */
  flush(): Promise<void>
  /** Stored counters plus what is not flushed yet. */
  read(): Promise<Record<string, AccountStats>>
  /** Stops the timer and flushes. */
  close(): Promise<void>
}

interface StatsDoc {
  version: 1
  accounts: Record<string, AccountStats>
}

export function emptyStats(): AccountStats {
  return { requests: 0, failures: 0, promptTokens: 0, completionTokens: 0 }
}

/** Adds `delta` into `into`: counters sum, the newer lastError / lastUsedAt wins. */
export function mergeStats(into: AccountStats, delta: StatsDelta): AccountStats {
  into.requests += delta.requests ?? 0
  into.failures += delta.failures ?? 0
  into.promptTokens += delta.promptTokens ?? 0
  into.completionTokens += delta.completionTokens ?? 0
  if (delta.lastError && (!into.lastError || delta.lastError.at >= into.lastError.at)) into.lastError = delta.lastError
  if (delta.lastUsedAt && (!into.lastUsedAt || delta.lastUsedAt > into.lastUsedAt)) into.lastUsedAt = delta.lastUsedAt
  return into
}

/** The stored counters; a missing or unreadable document counts as empty (counters are not precious). */
export async function readStats(storage: Storage): Promise<Record<string, AccountStats>> {
  const text = await readText(storage, KEYS.stats).catch(() => undefined)
  if (!text) return {}
  try {
    const doc = JSON.parse(text) as Partial<StatsDoc>
    return doc.version === 1 && doc.accounts && typeof doc.accounts === 'object' ? doc.accounts : {}
  } catch {
    return {}
  }
}

/**
 * Counters in `qwenauth/stats.json`: deltas pile up in memory and are added to the file every
 * `flushMs` and on close, under the store lock, so several processes can count into one file
 * without a read-modify-write per request.
 */
export function createFileStatsStore(
  store: { storage: Storage; locker: Locker },
  options: { flushMs?: number } = {},
): StatsStore {
  let pending = new Map<string, AccountStats>()
  let flushing: Promise<void> = Promise.resolve()

  const writePending = async (): Promise<void> => {
    if (pending.size === 0) return
    const batch = pending
    pending = new Map()
    try {
      const release = await store.locker.acquire(LOCK_NAMES.store)
      try {
        const accounts = await readStats(store.storage)
        for (const [id, delta] of batch) accounts[id] = mergeStats(accounts[id] ?? emptyStats(), delta)
        await writeJson(store.storage, KEYS.stats, { version: 1, accounts } satisfies StatsDoc)
      } finally {
        await release?.()
      }
    } catch (error) {
      // Keep the batch for the next try rather than lose counts.
      for (const [id, delta] of batch) pending.set(id, mergeStats(pending.get(id) ?? emptyStats(), delta))
      logger.debug(`could not write usage counters: ${(error as Error).message}`)
    }
  }

  const flush = (): Promise<void> => (flushing = flushing.then(writePending))
  const timer = setInterval(() => void flush(), options.flushMs ?? 2000)
  timer.unref?.()

  return {
    add(id, delta) {
      let entry = pending.get(id)
      if (!entry) pending.set(id, (entry = emptyStats()))
      mergeStats(entry, delta)
    },
    flush,
    async read() {
      const accounts = await readStats(store.storage)
      for (const [id, delta] of pending) accounts[id] = mergeStats(accounts[id] ?? emptyStats(), delta)
      return accounts
    },
    async close() {
      clearInterval(timer)
      await flush()
    },
  }
}
