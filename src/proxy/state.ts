import type { AccountPool } from '../pool/pool.ts'
import type { StatsStore } from '../store/stats.ts'
import type { ResolvedProxyOptions } from './options.ts'

/** What every request handler shares. */
export interface ProxyState {
  pool: AccountPool
  stats: StatsStore
  settings: ResolvedProxyOptions
}

/** Why one account could not answer one request. */
export interface AttemptFailure {
  accountId: string
  label: string
  reason: string
  /** A 5xx, a network error or a timeout: worth trying elsewhere, but bounded. */
  transient: boolean
}

export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause
    const detail = cause instanceof Error && cause.message && !error.message.includes(cause.message) ? ` (${cause.message})` : ''
    return `${error.message}${detail}`
  }
  return String(error)
}
