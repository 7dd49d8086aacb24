import type { AccountPool } from '../pool/pool.ts'
import type { StatsStore } from '../store/stats.ts'
import type { ProxyMetrics } from './metrics.ts'
import type { ResolvedProxyOptions } from './options.ts'
import type { ProxyError } from './protocols/protocol.ts'
import type { RecentRequests } from './recent-requests.ts'

/** What every request handler shares. */
export interface ProxyState {
  pool: AccountPool
  stats: StatsStore
  settings: ResolvedProxyOptions
  /** This process's counters for `GET /metrics`. */
  metrics: ProxyMetrics
  /** The last requests, for the status page. */
  recent: RecentRequests
  /** Told of every answer that no account could serve (exec prints it where the child may not). */
  onUnservable?: (error: ProxyError) => void
}
