/** One finished request, as the status page lists it. No bodies, headers or keys: nothing secret. */
export interface RecentRequest {
  /** When it ended, epoch ms. */
  at: number
  method: string
  route: string
  /** The client's protocol (`openai`, …), `-` for qwenauth's own routes. */
  protocol: string
  /** The account that served it, by label; null when none did. */
  account: string | null
  status: number | string
  durationMs: number
  promptTokens: number
  completionTokens: number
}

const KEPT = 100
const MINUTE_SLOTS = 60

/**
 * The last 100 requests and the requests of the last minute, in memory only (a restart starts
 * afresh). Fixed-size arrays: adding is a few stores, whatever the traffic.
 */
export class RecentRequests {
  private readonly ring: (RecentRequest | undefined)[] = new Array(KEPT)
  private next = 0
  /** Requests per second of the last minute: slot = second mod 60, tagged with its second. */
  private readonly counts = new Uint32Array(MINUTE_SLOTS)
  private readonly seconds = new Float64Array(MINUTE_SLOTS).fill(-1)

  add(entry: RecentRequest): void {
    this.ring[this.next] = entry
    this.next = (this.next + 1) % KEPT
    const second = Math.floor(entry.at / 1000)
    const slot = second % MINUTE_SLOTS
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second
      this.counts[slot] = 0
    }
    this.counts[slot]!++
  }

  /** Newest first. */
  list(): RecentRequest[] {
    const out: RecentRequest[] = []
    for (let i = 1; i <= KEPT; i++) {
      const entry = this.ring[(this.next - i + KEPT) % KEPT]
      if (entry) out.push(entry)
    }
    return out
  }

  /** Requests that ended in the 60 seconds up to `now`. */
  perMinute(now: number): number {
    const current = Math.floor(now / 1000)
    let total = 0
    for (let slot = 0; slot < MINUTE_SLOTS; slot++) {
      const second = this.seconds[slot]!
      if (second > current - MINUTE_SLOTS && second <= current) total += this.counts[slot]!
    }
    return total
  }
}
