import { effectiveStatus, type Account } from '../store/account-model.ts'

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
}

/** The accounts usable now, in the order a request tries them. */
export function candidateOrder(accounts: readonly Account[], options: OrderOptions): Account[] {
  const usable = accounts.filter((a) => effectiveStatus(a, options.now) === 'ok')
  let ordered = usable
  if (options.strategy === 'round-robin' && usable.length > 1) {
    const start = options.turn % usable.length
    ordered = [...usable.slice(start), ...usable.slice(0, start)]
  }
  const preferred = options.preferredId === undefined ? undefined : ordered.find((a) => a.id === options.preferredId)
  return preferred ? [preferred, ...ordered.filter((a) => a !== preferred)] : ordered
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
