import { effectiveStatus, type Account, type QuotaLimit } from '../store/account-model.ts'
import type { AccountStats } from '../store/stats.ts'
import { rollingFreeAt, windowUsage, type UsageCounters } from '../store/usage-windows.ts'
import { describeLimit, quotaClock } from './limits.ts'

/**
 * The decisions about which account serves, as pure functions of the accounts and the clock;
 * AccountPool applies them to its snapshot, and the tests drive them with tables.
 */

export type Strategy = 'fill-first' | 'round-robin'
export const STRATEGIES: readonly Strategy[] = ['fill-first', 'round-robin']

export interface OrderOptions {
  now: number
  strategy: Strategy
  /** Round-robin's position: the n-th request starts at the n-th usable account. */
  turn: number
  /** This account goes first whenever it is usable (`exec --account`). */
  preferredId?: string
  /** The account that served this conversation before goes first of all while it is usable (affinity). */
  affinityId?: string
  /** Accounts on trial (see `onTrial`) whose one trial request is under way: the others pass them over. */
  trialsRunning?: ReadonlySet<string>
}

/** The accounts usable now, in the order a request tries them. */
export function candidateOrder(accounts: readonly Account[], options: OrderOptions): Account[] {
  const usable = accounts.filter((a) => effectiveStatus(a, options.now) === 'ok' && !(onTrial(a, options.now) && options.trialsRunning?.has(a.id)))
  let ordered = usable
  if (options.strategy === 'round-robin' && usable.length > 1) {
    const start = options.turn % usable.length
    ordered = [...usable.slice(start), ...usable.slice(0, start)]
  }
  for (const id of [options.preferredId, options.affinityId]) {
    const first = id === undefined ? undefined : ordered.find((a) => a.id === id)
    if (first) ordered = [first, ...ordered.filter((a) => a !== first)]
  }
  return ordered
}

/**
 * A cooldown that has run out but is still stored: the account may serve again, but not yet for
 * everyone. One request tries it; the others keep going elsewhere until that one succeeds (and
 * the mark is cleared) or earns a new cooldown. Without this, every request in flight would hit
 * an account whose quota may well still be spent.
 */
export function onTrial(account: Account, now: number): boolean {
  return account.status === 'cooling-down' && (account.cooldownUntil ?? 0) <= now
}

export interface LimitBlock {
  limit: QuotaLimit
  used: number
  /** When every limit it is at has freed up. */
  until: number
}

/** The limit an account has reached as of `now`, if any, and when it frees up (the latest of several). */
export function limitBlock(account: Account, usage: UsageCounters | undefined, now: number): LimitBlock | undefined {
  const clock = quotaClock(account)
  let block: LimitBlock | undefined
  for (const limit of account.limits ?? []) {
    const counted = windowUsage(usage, limit.window, clock, now)
    const used = counted[limit.unit]
    if (used < limit.max) continue
    const until = limit.window === '5h' ? rollingFreeAt(usage, limit.unit, limit.max, now) : (counted.resetsAt ?? now)
    if (!block || until > block.until) block = { limit, used, until }
  }
  return block
}

/** The code of the rest an account takes at one of its limits. */
export const LIMIT_REACHED = 'limit_reached'

/**
 * The accounts as they stand with their limits applied: one that is at a limit rests (as a
 * cooldown, not stored: the usage that decides it is shared, so every process and `status`
 * comes to the same) until the window frees up. Unchanged when no account has limits.
 */
export function withLimits(accounts: Account[], stats: Readonly<Record<string, AccountStats>> | undefined, now: number): Account[] {
  if (!accounts.some((a) => a.limits?.length)) return accounts
  return accounts.map((a) => {
    if (!a.limits?.length || effectiveStatus(a, now) !== 'ok') return a
    const block = limitBlock(a, stats?.[a.id]?.usage, now)
    if (!block) return a
    const message = `${describeLimit(block.limit)} (${block.used.toLocaleString('en-US')} counted)`
    return { ...a, status: 'cooling-down', cooldownUntil: block.until, lastError: { message, at: now, code: LIMIT_REACHED } }
  })
}

export interface Handout {
  /** The first account in pool order that can serve now; undefined when none can. */
  account: Account | undefined
  /** The accounts before it that cannot serve now (every account, when none can). */
  passedOver: Account[]
}

/**
 * Whose credential `token`, `env` and `exec --direct` hand out when no account is named: the
 * first that can serve. Handing out the active account's token when the API refuses it (not
 * served, cooling down, waiting for a new login) would only move the failure into the user's
 * program.
 */
export function chooseHandout(accounts: readonly Account[], now: number): Handout {
  const index = accounts.findIndex((a) => effectiveStatus(a, now) === 'ok')
  return index === -1 ? { account: undefined, passedOver: [...accounts] } : { account: accounts[index], passedOver: accounts.slice(0, index) }
}

/** When the first of these accounts that is cooling down can serve again; undefined if none is. */
export function earliestCooldownEnd(accounts: readonly Account[], now: number): number | undefined {
  const ends = accounts.filter((a) => effectiveStatus(a, now) === 'cooling-down').map((a) => a.cooldownUntil ?? now)
  return ends.length > 0 ? Math.min(...ends) : undefined
}
