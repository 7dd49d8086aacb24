import { redact, secretHint } from '../lib/redact.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import type { AccountStats } from '../store/stats.ts'

/**
 * What anyone may see of an account: `status`, `/health` and every other view are built from
 * this one function, so none can show more than the others. No secrets: a key's last four
 * characters at most. Errors are redacted when they are stored; they are redacted here again
 * because stores written by older versions (or by hand) hold them as they came.
 */
export interface AccountView {
  id: string
  label: string
  provider: string
  kind: Account['kind']
  /** First in pool order. */
  active: boolean
  status: Account['status']
  expiresAt: number | null
  cooldownUntil: number | null
  keyHint: string | null
  baseUrl: string
  model: string | null
  lastError: string | null
  /** What `serve` and `exec` counted for this account, null before its first request (or while the store is away). */
  stats: AccountStats | null
}

export function accountViews(accounts: readonly Account[], stats: Readonly<Record<string, AccountStats>> | undefined, now: number): AccountView[] {
  return accounts.map((a, index) => {
    const status = effectiveStatus(a, now)
    return {
      id: a.id,
      label: a.label,
      provider: a.provider,
      kind: a.kind,
      active: index === 0,
      status,
      expiresAt: a.kind === 'qwen-oauth' ? (a.expiresAt ?? null) : null,
      cooldownUntil: status === 'cooling-down' ? (a.cooldownUntil ?? null) : null,
      keyHint: a.kind === 'api-key' ? secretHint(a.apiKey) : null,
      baseUrl: a.baseUrl,
      model: a.model ?? null,
      lastError: a.lastError ? redact(a.lastError.message) : null,
      stats: redactedStats(stats?.[a.id]),
    }
  })
}

function redactedStats(stats: AccountStats | undefined): AccountStats | null {
  if (!stats) return null
  return stats.lastError ? { ...stats, lastError: { ...stats.lastError, message: redact(String(stats.lastError.message)) } } : stats
}
