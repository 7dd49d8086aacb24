import type { Account, QuotaLimit } from './account-model.ts'
import { QUOTA_WINDOWS } from './usage-windows.ts'

/** What an owner sets on an account beside its credential: limits, the monthly reset day, a fixed User-Agent. */

/** `--limit` as parsed: `5h=1200` sets, `week=none` clears one, `none` clears all. */
export type LimitEdit = { clearAll: true } | { set: QuotaLimit } | { clear: Pick<QuotaLimit, 'window' | 'unit'> }

export interface AccountSettings {
  limitEdits?: readonly LimitEdit[]
  /** A day of the month, or null to forget it. */
  quotaResetDay?: number | null
  /** A fixed User-Agent, or null to forward the client's again. */
  userAgent?: string | null
}

/** Applies what is given; what is not stays as it was. */
export function applySettings(account: Account, settings: AccountSettings): void {
  if (settings.limitEdits?.length) {
    const limits = applyLimitEdits(account.limits, settings.limitEdits)
    if (limits) account.limits = limits
    else delete account.limits
  }
  for (const field of ['quotaResetDay', 'userAgent'] as const) {
    const value = settings[field]
    if (value === null) delete account[field]
    else if (value !== undefined) Object.assign(account, { [field]: value })
  }
}

/** `5h`, or `5h-tokens`: how a limit is named on the command line. */
export function limitName(limit: Pick<QuotaLimit, 'window' | 'unit'>): string {
  return limit.unit === 'tokens' ? `${limit.window}-tokens` : limit.window
}

/** The account's limits after the edits, in window order; undefined when none are left. */
export function applyLimitEdits(limits: readonly QuotaLimit[] | undefined, edits: readonly LimitEdit[]): QuotaLimit[] | undefined {
  let out = [...(limits ?? [])]
  for (const edit of edits) {
    if ('clearAll' in edit) out = []
    else {
      const target = 'set' in edit ? edit.set : edit.clear
      out = out.filter((l) => limitName(l) !== limitName(target))
      if ('set' in edit) out.push(edit.set)
    }
  }
  out.sort((a, b) => QUOTA_WINDOWS.indexOf(a.window) - QUOTA_WINDOWS.indexOf(b.window) || a.unit.localeCompare(b.unit))
  return out.length > 0 ? out : undefined
}

