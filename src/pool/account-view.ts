import { redact, secretHint } from '../lib/redact.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import type { AccountStats } from '../store/stats.ts'
import { QUOTA_WINDOWS, windowUsage, type QuotaWindow } from '../store/usage-windows.ts'
import { LIMIT_REACHED, withLimits } from './choose.ts'
import { quotaClock } from './limits.ts'
import { defaultModel } from './model-map.ts'

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
  /** Resting because it reached one of its own limits (not because the provider refused it). */
  atLimit: boolean
  keyHint: string | null
  baseUrl: string
  /** The model it is asked for when a client names none. */
  model: string
  /** A User-Agent its owner fixed, sent instead of the client's. */
  userAgent: string | null
  /** Day of the month its monthly window starts, when set. */
  quotaResetDay: number | null
  lastError: string | null
  /** What `serve` and `exec` counted for this account, null before its first request (or while the store is away). */
  stats: AccountStats | null
  /** Each quota window: what was counted in it, the limits set on it, and when its count next goes down. */
  usage: Record<QuotaWindow, WindowView>
}

export interface WindowView {
  requests: number
  tokens: number
  /** Epoch ms: a calendar window's next start, or when the oldest request leaves the rolling 5 hours; null when that has nothing counted. */
  resetsAt: number | null
  limits: { requests?: number; tokens?: number }
}

export function accountViews(accounts: readonly Account[], stats: Readonly<Record<string, AccountStats>> | undefined, now: number): AccountView[] {
  return withLimits([...accounts], stats, now).map((a, index) => {
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
      atLimit: status === 'cooling-down' && a.lastError?.code === LIMIT_REACHED,
      keyHint: a.kind === 'api-key' ? secretHint(a.apiKey) : null,
      baseUrl: a.baseUrl,
      model: defaultModel(a),
      userAgent: a.userAgent ?? null,
      quotaResetDay: a.quotaResetDay ?? null,
      lastError: a.lastError ? redact(a.lastError.message) : null,
      stats: redactedStats(stats?.[a.id]),
      usage: windowViews(a, stats?.[a.id], now),
    }
  })
}

/** One count against one window, as the status page and `/metrics` list them. */
export interface UsageLine {
  window: QuotaWindow
  unit: 'requests' | 'tokens'
  used: number
  /** The limit set on that window, null when none is. */
  limit: number | null
  resetsAt: number | null
}

/**
 * The view's usage as lines: the requests of every window that has a limit or a count (the
 * minute window only with a limit: it is for rate limits), and tokens where a limit counts them.
 */
export function usageLines(view: Pick<AccountView, 'usage'>): UsageLine[] {
  const lines: UsageLine[] = []
  for (const window of QUOTA_WINDOWS) {
    const w = view.usage[window]
    const limited = w.limits.requests !== undefined
    if (limited || (window !== 'minute' && w.requests > 0)) lines.push({ window, unit: 'requests', used: w.requests, limit: w.limits.requests ?? null, resetsAt: w.resetsAt })
    if (w.limits.tokens !== undefined) lines.push({ window, unit: 'tokens', used: w.tokens, limit: w.limits.tokens, resetsAt: w.resetsAt })
  }
  return lines
}

function windowViews(account: Account, stats: AccountStats | undefined, now: number): Record<QuotaWindow, WindowView> {
  const clock = quotaClock(account)
  const views = {} as Record<QuotaWindow, WindowView>
  for (const window of QUOTA_WINDOWS) {
    const limits: WindowView['limits'] = {}
    for (const limit of account.limits ?? []) if (limit.window === window) limits[limit.unit] = limit.max
    views[window] = { ...windowUsage(stats?.usage, window, clock, now), limits }
  }
  return views
}

function redactedStats(stats: AccountStats | undefined): AccountStats | null {
  if (!stats) return null
  // The buckets are shown per window (`usage`); as stored they would only be noise.
  const { usage: _buckets, ...rest } = stats
  return rest.lastError ? { ...rest, lastError: { ...rest.lastError, message: redact(String(rest.lastError.message)) } } : rest
}
