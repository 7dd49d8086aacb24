import { logger } from '../lib/logger.ts'
import { readAllStats, type StatsHome } from '../store/stats-backend.ts'
import type { AccountStats } from '../store/stats.ts'

/** Counters to check limits against: a live counters store (the proxy's), or a store read on demand. */
export interface UsageSource {
  read(): Promise<Record<string, AccountStats>>
  /** The last read plus what this process added since, without waiting (a live counters store has it). */
  latest?(): Readonly<Record<string, AccountStats>> | undefined
}

type Counters = Readonly<Record<string, AccountStats>>

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
