import { logger } from '../lib/logger.ts'
import { readAllStats, type StatsHome } from '../store/stats-backend.ts'
import type { AccountStats } from '../store/stats.ts'
import type { UsageCounters } from '../store/usage-windows.ts'

/** Counters to check limits against: a live counters store (the proxy's), or a store read on demand. */
export interface UsageSource {
  read(): Promise<Record<string, AccountStats>>
  /** The last read plus what this process added since, without waiting (a live counters store has it). */
  latest?(): Readonly<Record<string, AccountStats>> | undefined
}

type Counters = Readonly<Record<string, AccountStats>>

/** A request dispatched to an account and not yet counted; `release` (idempotent) ends it. */
export interface InFlight {
  release(): void
}

/**
 * The usage the pool decides limits on. Read from the store (shared by every instance on Redis)
 * at most every `refreshMs` (concurrent requests share one read); in between, what this process
 * counted itself is already in `latest`. Only read at all when some account has limits.
 */
export class UsageSnapshot {
  private readonly source: UsageSource
  private read: Counters | undefined
  private readAt = 0
  private loading: Promise<void> | undefined
  /**
   * Requests this process has dispatched and not yet counted, per account, each as the usage it
   * adds (one request, in the buckets of its dispatch): a request is counted when its answer
   * is over, and until then N requests in flight would all pass an account with fewer left.
   */
  private readonly inFlight = new Map<string, Set<UsageCounters>>()

  constructor(
    source: UsageSource | StatsHome,
    private readonly refreshMs: number,
    private readonly now: () => number,
  ) {
    this.source = 'read' in source ? source : { read: () => readAllStats(source) }
  }

  async current(): Promise<Counters | undefined> {
    if (this.now() - this.readAt >= this.refreshMs) {
      this.loading ??= this.load().finally(() => (this.loading = undefined))
      await this.loading
    }
    return this.source.latest?.() ?? this.read
  }

  /** The counters with the requests in flight added: what limits are checked against. */
  withInFlight(counters: Counters | undefined): Counters | undefined {
    if (this.inFlight.size === 0) return counters
    const merged: Record<string, AccountStats> = { ...counters }
    for (const id of this.inFlight.keys()) {
      const base = counters?.[id]
      merged[id] = { ...(base ?? { requests: 0, failures: 0, promptTokens: 0, completionTokens: 0 }), usage: this.addInFlight(id, base?.usage) }
    }
    return merged
  }

  /** One account's usage as `current` last resolved, requests in flight added, without waiting. */
  usageNow(accountId: string): UsageCounters | undefined {
    const counted = (this.source.latest?.() ?? this.read)?.[accountId]?.usage
    return this.inFlight.has(accountId) ? this.addInFlight(accountId, counted) : counted
  }

  private addInFlight(accountId: string, counted: UsageCounters | undefined): UsageCounters {
    const usage: UsageCounters = { ...counted }
    for (const delta of this.inFlight.get(accountId) ?? []) for (const [key, n] of Object.entries(delta)) usage[key] = (usage[key] ?? 0) + n
    return usage
  }

  /**
   * Counts a request against the account from its dispatch (`delta`: one request in the buckets
   * of now) until `release`, which comes in the same turn as the request is counted for real, or
   * when it ends uncounted (failed before the upstream, the client gone).
   */
  reserve(accountId: string, delta: UsageCounters): InFlight {
    let held = this.inFlight.get(accountId)
    if (!held) this.inFlight.set(accountId, (held = new Set()))
    held.add(delta)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        held.delete(delta)
        if (held.size === 0 && this.inFlight.get(accountId) === held) this.inFlight.delete(accountId)
      },
    }
  }

  private async load(): Promise<void> {
    try {
      this.read = await this.source.read()
    } catch (error) {
      // The store is away: decide on the figures held; the outage is reported where it is noticed.
      logger.debug(`could not read the usage counters: ${(error as Error).message}`)
    }
    this.readAt = this.now()
  }
}
