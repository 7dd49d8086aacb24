import { accountViews } from '../pool/account-view.ts'
import type { AccountPool } from '../pool/pool.ts'
import { effectiveStatus, type AccountStatus } from '../store/account-model.ts'
import type { StatsStore } from '../store/stats.ts'
import { workerIdentity } from './worker.ts'

/**
 * `GET /health`: `ok` when every account is usable, `degraded` otherwise (HTTP 503 when none
 * is). Counts by status for anyone; per-account detail (labels, counters, no secrets) only for
 * callers that passed the key check.
 */
export async function healthResponse(pool: AccountPool, stats: StatsStore, detailed: boolean, now: number): Promise<Response> {
  const accounts = await pool.accounts()
  const byStatus: Record<AccountStatus, number> = { ok: 0, 'cooling-down': 0, 'not-served': 0, 'needs-login': 0 }
  for (const a of accounts) byStatus[effectiveStatus(a, now)]++
  const usable = byStatus.ok
  const body: Record<string, unknown> = {
    status: usable > 0 && usable === accounts.length ? 'ok' : 'degraded',
    strategy: pool.strategy,
    accounts: { total: accounts.length, ...byStatus },
  }
  // Under `serve --workers N`: which process answered (each keeps its own metrics and list).
  const worker = workerIdentity()
  if (worker) body.worker = worker
  if (detailed) {
    // Counters live in the store: while it is away (Redis down), health still answers, without them.
    const counters = await stats.read().catch(() => undefined)
    body.details = accountViews(accounts, counters, now)
  }
  return new Response(JSON.stringify(body), {
    status: usable > 0 ? 200 : 503,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}
