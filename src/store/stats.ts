import type { Storage } from 'unstorage'
import { logger } from '../lib/logger.ts'
import { KEYS, LOCK_NAMES } from '../lib/paths.ts'
import { accountError } from './account-model.ts'
import { readText, writeJson } from './json-item.ts'
import type { Locker } from './locker.ts'
import { pruneUsage, type UsageCounters } from './usage-windows.ts'

/** What the proxy counted for one account, across every process that served with it. */
export interface AccountStats {
  requests: number
  failures: number
  promptTokens: number
  completionTokens: number
  lastError?: { message: string; at: number }
  lastUsedAt?: number
  /** Requests and tokens in time buckets, for the quota windows (see usage-windows.ts). */
  usage?: UsageCounters
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
  /** What the last `read` found plus everything added since, without waiting; undefined before the first read. */
  latest(): Readonly<Record<string, AccountStats>> | undefined
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
  if (delta.usage) {
    const usage = (into.usage ??= {})
    for (const key in delta.usage) usage[key] = (usage[key] ?? 0) + (delta.usage[key] as number)
  }
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

/** Where a buffered counters store sends its deltas and reads the totals. */
export interface StatsBackend {
  /** Adds a batch of deltas to the stored counters. Throws to have the batch kept for later. */
  write(batch: Map<string, AccountStats>): Promise<void>
  readStored(): Promise<Record<string, AccountStats>>
  /** For the debug line when a write fails. */
  where: string
}

/**
 * What every counters store shares: deltas pile up in memory (the hot path never waits) and
 * go out every `flushMs` and on close; a failed write keeps its batch for the next flush
 * rather than lose counts.
 */
export function createBufferedStatsStore(backend: StatsBackend, flushMs: number): StatsStore {
  let pending = new Map<string, AccountStats>()
  let flushing: Promise<void> = Promise.resolve()
  let known: Record<string, AccountStats> | undefined

  const writePending = async (): Promise<void> => {
    if (pending.size === 0) return
    const batch = pending
    pending = new Map()
    try {
      await backend.write(batch)
    } catch (error) {
      for (const [id, delta] of batch) pending.set(id, mergeStats(pending.get(id) ?? emptyStats(), delta))
      logger.debug(`could not write usage counters to ${backend.where}: ${(error as Error).message}`)
    }
  }

  const flush = (): Promise<void> => (flushing = flushing.then(writePending))
  const timer = setInterval(() => void flush(), flushMs)
  timer.unref?.()

  return {
    add(id, delta) {
      // Errors are often an upstream's own words: stored as an account's error is (accountError).
      if (delta.lastError) delta = { ...delta, lastError: accountError(delta.lastError.message, delta.lastError.at) }
      let entry = pending.get(id)
      if (!entry) pending.set(id, (entry = emptyStats()))
      mergeStats(entry, delta)
      if (known) known[id] = mergeStats(known[id] ?? emptyStats(), delta)
    },
    flush,
    read() {
      // In line with the writes: a batch being written is in neither `pending` nor the store yet,
      // and a read between the two would show the counts drop (the status page polls every second).
      const reading = flushing.then(async () => {
        const stored = await backend.readStored()
        for (const [id, delta] of pending) stored[id] = mergeStats(stored[id] ?? emptyStats(), delta)
        known = structuredClone(stored)
        return stored
      })
      flushing = reading.then(
        () => {},
        () => {},
      )
      return reading
    },
    latest: () => known,
    async close() {
      clearInterval(timer)
      await flush()
    },
  }
}

/**
 * Counters in `qwenauth/stats.json`, added under the store lock, so several processes can
 * count into one file without a read-modify-write per request.
 */
export function createFileStatsStore(
  store: { storage: Storage; locker: Locker },
  options: { flushMs?: number; now?: () => number } = {},
): StatsStore {
  const now = options.now ?? Date.now
  const write = async (batch: Map<string, AccountStats>) => {
    const release = await store.locker.acquire(LOCK_NAMES.store)
    try {
      const accounts = await readStats(store.storage)
      for (const [id, delta] of batch) accounts[id] = mergeStats(accounts[id] ?? emptyStats(), delta)
      // Buckets that left every window go as the file is written: it never grows past a month's.
      for (const stats of Object.values(accounts)) if (stats.usage) pruneUsage(stats.usage, now())
      await writeJson(store.storage, KEYS.stats, { version: 1, accounts } satisfies StatsDoc)
    } finally {
      await release?.()
    }
  }
  return createBufferedStatsStore({ write, readStored: () => readStats(store.storage), where: 'the stats file' }, options.flushMs ?? 2000)
}
