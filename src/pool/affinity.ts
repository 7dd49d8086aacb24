/**
 * Which account served a conversation last, so its next request goes there while that account
 * is usable: providers cache a repeated prompt prefix per account, and a long agent session that
 * hops between accounts pays for its whole context again on each hop. Bounded in count (the
 * least recently used go first) and in age (an idle conversation's cache is gone anyway).
 */
export class AffinityMap {
  private readonly entries = new Map<string, { accountId: string; at: number }>()

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  get(key: string, now: number): string | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (now - entry.at > this.maxAgeMs) {
      this.entries.delete(key)
      return undefined
    }
    return entry.accountId
  }

  set(key: string, accountId: string, now: number): void {
    // Re-inserting moves the key to the end: Map order is least recently used first.
    this.entries.delete(key)
    this.entries.set(key, { accountId, at: now })
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && now - entry.at <= this.maxAgeMs) break
      this.entries.delete(oldest)
    }
  }

  get size(): number {
    return this.entries.size
  }
}
