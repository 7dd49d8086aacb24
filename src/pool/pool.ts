import { envNumber } from '../lib/env-number.ts'
import type { Context } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { formatDuration } from '../lib/duration.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { accountError, effectiveStatus, hasUsableToken, requireAccount, type Account } from '../store/account-model.ts'
import type { AccountStats } from '../store/stats.ts'
import { AccountsSnapshot } from './accounts-snapshot.ts'
import { AffinityMap } from './affinity.ts'
import { candidateOrder, chooseHandout, earliestCooldownEnd, limitBlock, onTrial, withLimits, type Strategy } from './choose.ts'
import { quotaClock } from './limits.ts'
import { ADD_SERVED_ACCOUNT, describeAccounts, unusableWarning } from './messages.ts'
import { usageDelta } from '../store/usage-windows.ts'
import { UsageSnapshot, type InFlight, type UsageSource } from './usage-snapshot.ts'

export { STRATEGIES, type Strategy } from './choose.ts'
export type { InFlight } from './usage-snapshot.ts'

/** The hold of an account without limits: nothing to release. */
const NOT_HELD: InFlight = { release: () => {} }

export interface PoolOptions {
  strategy?: Strategy
  /** How old the in-memory snapshot may get before it is read again (QWENAUTH_POOL_REFRESH_MS). */
  refreshMs?: number
  /** This account serves first whenever it can (`exec --account`); nothing is written. */
  preferredId?: string
  /** Where the usage that limits are checked against comes from (default: the context's store, read when needed). */
  stats?: UsageSource
  now?: () => number
}

/**
 * The only place that decides which account serves: a proxied request (`candidates`) or a
 * credential handed out (`handout`, for token/env/exec). It decides on a snapshot of the accounts
 * (accounts-snapshot.ts: no file I/O on the hot path, marks by other processes seen within
 * `refreshMs`), with their limits applied to the shared usage, and writes its own marks
 * (cooldowns, not-served) through the store so `status` and other processes see them.
 */
export class AccountPool {
  readonly strategy: Strategy
  private readonly refreshMs: number
  private readonly preferredId: string | undefined
  private readonly now: () => number
  private readonly snapshot: AccountsSnapshot
  private turn = 0
  private readonly usage: UsageSnapshot
  /** Accounts on trial whose one trial request is under way (see `onTrial`). */
  private readonly trials = new Set<string>()
  private readonly affinity = new AffinityMap(DEFAULTS.affinityMaxEntries, DEFAULTS.affinityMaxAgeMs)

  constructor(
    private readonly ctx: Context,
    options: PoolOptions = {},
  ) {
    this.strategy = options.strategy ?? DEFAULTS.strategy
    this.refreshMs = options.refreshMs ?? (envNumber(process.env, 'QWENAUTH_POOL_REFRESH_MS') || DEFAULTS.poolRefreshMs)
    this.preferredId = options.preferredId
    this.now = options.now ?? Date.now
    this.snapshot = new AccountsSnapshot(ctx, this.refreshMs, this.now)
    this.usage = new UsageSnapshot(options.stats ?? ctx, this.refreshMs, this.now)
  }

  /**
   * Every account in pool order (first = active), as of at most `refreshMs` ago, with its
   * limits applied: one at a limit shows as resting until its window frees up. Requests this
   * process has in flight count against the limits as if their answers were in.
   */
  async accounts(): Promise<Account[]> {
    const { accounts } = await this.snapshot.read()
    if (!accounts.some((a) => a.limits?.length)) return accounts
    return withLimits(accounts, this.usage.withInFlight(await this.usage.current()), this.now())
  }

  /**
   * Usable accounts in the order to try them: the one that served the conversation before
   * (`affinityKey`), the preferred or active one, or rotated for round-robin. Accounts whose
   * trial request is under way are left out.
   */
  async candidates(options: { affinityKey?: string | undefined } = {}): Promise<Account[]> {
    const accounts = await this.accounts()
    const now = this.now()
    const affinityId = options.affinityKey === undefined ? undefined : this.affinity.get(options.affinityKey, now)
    return candidateOrder(accounts, {
      now,
      strategy: this.strategy,
      turn: this.turn++,
      trialsRunning: this.trials,
      ...(this.preferredId ? { preferredId: this.preferredId } : {}),
      ...(affinityId ? { affinityId } : {}),
    })
  }

  /**
   * Whether a request may go to this account now, decided at dispatch and in one turn (the
   * candidates were listed before an await, while other requests went out): no if the requests
   * dispatched since have brought the account to a limit, or if it is on trial and another
   * request is already trying it. A yes counts the request against the account's limits until
   * the returned hold is released (when the request is counted, or ends uncounted), and holds
   * a trial until `release`.
   */
  claim(account: Account): InFlight | undefined {
    const current = this.snapshot.find(account.id) ?? account
    const now = this.now()
    const limited = Boolean(current.limits?.length)
    if (limited && limitBlock(current, this.usage.usageNow(current.id), now)) return undefined
    if (onTrial(current, now)) {
      if (this.trials.has(account.id)) return undefined
      this.trials.add(account.id)
    }
    return limited ? this.usage.reserve(current.id, usageDelta(quotaClock(current), now, 0)) : NOT_HELD
  }

  /** Accounts whose trial request is under way. */
  trialsUnderWay(): ReadonlySet<string> {
    return this.trials
  }

  /** The attempt on this account is over (its trial, if it was one, succeeded or failed). */
  release(account: Account): void {
    this.trials.delete(account.id)
  }

  /** This conversation's next requests go to this account while it is usable. */
  remember(affinityKey: string, accountId: string): void {
    this.affinity.set(affinityKey, accountId, this.now())
  }

  /** What was counted for an account, for estimates such as when its 5-hour window frees up. */
  async usageOf(id: string): Promise<AccountStats | undefined> {
    return (await this.usage.current())?.[id]
  }

  /**
   * The account whose credential `token`, `env` and `exec --direct` hand out: the named one as
   * asked (with a warning when it cannot serve), else the first in pool order that can, with one
   * warning per account passed over. Throws, saying why for each, when none can.
   *
   * `proxied`: the account `exec`'s proxy starts from (the child's model name comes from it). A
   * named one that cannot serve is not used as asked: the proxy turns to it once it can
   * (`preferredId`) and to the others meanwhile, which the one warning says.
   */
  async handout(idOrLabel?: string, options: { proxied?: boolean } = {}): Promise<Account> {
    const accounts = await this.accounts()
    const now = this.now()
    const named = idOrLabel === undefined ? undefined : requireAccount({ version: 1, accounts }, idOrLabel)
    if (named && effectiveStatus(named, now) === 'ok') return named
    if (named && !options.proxied) {
      logger.warn(`${unusableWarning(named, now)}; using it because --account names it`)
      return named
    }
    if (accounts.length === 0) throw new QwenauthError('no accounts yet: run `qwenauth login` first', ExitCode.needsLogin)
    const { account, passedOver } = chooseHandout(accounts, now)
    if (!account) throw noAccountCanServe(accounts, now)
    if (named) logger.warn(`${unusableWarning(named, now)}; --account names it: requests go to it once it can serve, to the others meanwhile`)
    else for (const skipped of passedOver) logger.warn(`${unusableWarning(skipped, now)}; using ${account.label} (${account.id}) instead`)
    return account
  }

  /** The account `idOrLabel` names (a usage error when none does), as the pool sees it now. */
  async named(idOrLabel: string): Promise<Account> {
    return requireAccount({ version: 1, accounts: await this.accounts() }, idOrLabel)
  }

  /**
   * The account with a credential usable now. A token the snapshot holds is used as is; an
   * expiring or refused one goes through the store's refresh (once under the lock, or the token
   * another process already refreshed). Throws QwenauthError when a new login is needed.
   */
  async credential(account: Account, options: { rejectedToken?: string; signal?: AbortSignal; marginMs?: number } = {}): Promise<Account> {
    const marginMs = options.marginMs ?? DEFAULTS.tokenRefreshMarginMs
    // A copy: a refresh by another request updates the snapshot in place, and a caller that gets
    // a 401 must name the token it sent, not the new one (that would refresh a second time).
    if (!options.rejectedToken && hasUsableToken(account, marginMs, this.now())) return { ...account }
    try {
      const fresh = await this.ctx.accounts.fresh(account.id, { ...options, marginMs })
      this.snapshot.replaceCredential(fresh)
      return fresh
    } catch (error) {
      // The store may have marked it `needs-login`: read that now rather than in a second.
      this.snapshot.expire()
      throw error
    }
  }

  /** Out of service until `until` (quota, rate limit); an expired cooldown counts as ok again. */
  markCooldown(id: string, until: number, reason: string, code: string): Promise<void> {
    const current = this.snapshot.find(id)
    if (current && effectiveStatus(current, this.now()) === 'cooling-down' && (current.cooldownUntil ?? 0) >= until) {
      return Promise.resolve()
    }
    const error = accountError(reason, this.now(), code)
    return this.snapshot.edit(id, (a) => Object.assign(a, { status: 'cooling-down', cooldownUntil: until, lastError: error }))
  }

  /** Out of service until the user acts: `not-served` (free tier ended) or `needs-login` (key refused). */
  markUnusable(id: string, status: 'not-served' | 'needs-login', reason: string, code: string): Promise<void> {
    if (this.snapshot.find(id)?.status === status) return Promise.resolve()
    const error = accountError(reason, this.now(), code)
    return this.snapshot.edit(id, (a) => {
      Object.assign(a, { status, lastError: error })
      delete a.cooldownUntil
    })
  }

  /** A request succeeded on an account whose stored cooldown had run out: store it as ok again. */
  markServedAgain(account: Account): void {
    if (account.status !== 'cooling-down' || effectiveStatus(account, this.now()) !== 'ok') return
    void this.snapshot.edit(account.id, (a) => {
      if (a.status !== 'cooling-down' || (a.cooldownUntil ?? 0) > this.now()) return
      a.status = 'ok'
      delete a.cooldownUntil
    })
  }

  /** The next read goes to the store: for a change just made there (the status page's actions). */
  forget(): void {
    this.snapshot.expire()
  }

  /** Resolves once every mark made so far is stored. */
  settled(): Promise<void> {
    return this.snapshot.settled()
  }
}

/** Nothing to hand out: one line saying why for each account, and what to do. */
function noAccountCanServe(accounts: readonly Account[], now: number): QwenauthError {
  const back = earliestCooldownEnd(accounts, now)
  const when = back === undefined ? '' : ` The first one can serve again in ${formatDuration(back - now)}.`
  return new QwenauthError(`no account can serve right now: ${describeAccounts(accounts, now)}.${when} Wait, fix them, or ${ADD_SERVED_ACCOUNT}`, ExitCode.noUsableAccount)
}
