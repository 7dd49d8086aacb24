import type { Context } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { formatDuration } from '../lib/duration.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { accountError, effectiveStatus, hasUsableToken, requireAccount, type Account, type AccountsDoc } from '../store/account-model.ts'
import { candidateOrder, chooseHandout, earliestCooldownEnd, type Strategy } from './choose.ts'
import { ADD_SERVED_ACCOUNT, describeAccounts, unusableWarning } from './messages.ts'

export { STRATEGIES, type Strategy } from './choose.ts'

export interface PoolOptions {
  strategy?: Strategy
  /** How old the in-memory snapshot may get before it is read again (QWENAUTH_POOL_REFRESH_MS). */
  refreshMs?: number
  /** This account serves first whenever it can (`exec --account`); nothing is written. */
  preferredId?: string
  now?: () => number
}

type Edit = (account: Account) => void

const CREDENTIAL_FIELDS = ['accessToken', 'refreshToken', 'tokenType', 'expiresAt', 'resourceUrl', 'baseUrl', 'apiKey'] as const

/**
 * The only place that decides which account serves: a proxied request (`candidates`) or a
 * credential handed out (`handout`, for token/env/exec). It keeps a snapshot of the accounts
 * document so the hot path does no file I/O, reads it again at most every `refreshMs` (so marks
 * written by other processes show up within a second), and writes its own marks (cooldowns,
 * not-served) through the store so `status` and other processes see them.
 */
export class AccountPool {
  readonly strategy: Strategy
  private readonly refreshMs: number
  private readonly preferredId: string | undefined
  private readonly now: () => number
  private doc: AccountsDoc | undefined
  private loadedAt = 0
  private loading: Promise<AccountsDoc> | undefined
  /** Bumped whenever an edit reaches the store: a read that began before it is outdated. */
  private writeEpoch = 0
  /** Edits applied to the snapshot but not yet stored; re-applied over any fresh read. */
  private readonly unsaved = new Set<{ id: string; edit: Edit }>()
  private writes: Promise<void> = Promise.resolve()
  private turn = 0
  /** The last read of the store failed; the snapshot is older than `refreshMs`. */
  private stale = false

  constructor(
    private readonly ctx: Context,
    options: PoolOptions = {},
  ) {
    this.strategy = options.strategy ?? DEFAULTS.strategy
    this.refreshMs = options.refreshMs ?? (Number(process.env.QWENAUTH_POOL_REFRESH_MS) || DEFAULTS.poolRefreshMs)
    this.preferredId = options.preferredId
    this.now = options.now ?? Date.now
  }

  /** Every account in pool order (first = active), as of at most `refreshMs` ago. */
  async accounts(): Promise<Account[]> {
    return (await this.snapshot()).accounts
  }

  /** Usable accounts in the order to try them: the preferred or active one first, or rotated for round-robin. */
  async candidates(): Promise<Account[]> {
    const accounts = await this.accounts()
    return candidateOrder(accounts, { now: this.now(), strategy: this.strategy, turn: this.turn++, ...(this.preferredId ? { preferredId: this.preferredId } : {}) })
  }

  /**
   * The account whose credential `token`, `env` and `exec --direct` hand out: the named one as
   * asked (with a warning when it cannot serve), else the first in pool order that can, with one
   * warning per account passed over. Throws, saying why for each, when none can.
   */
  async handout(idOrLabel?: string): Promise<Account> {
    const doc = await this.snapshot()
    const now = this.now()
    if (idOrLabel !== undefined) {
      const named = requireAccount(doc, idOrLabel)
      if (effectiveStatus(named, now) !== 'ok') logger.warn(`${unusableWarning(named, now)}; using it because --account names it`)
      return named
    }
    if (doc.accounts.length === 0) throw new QwenauthError('no accounts yet: run `qwenauth login` first', ExitCode.needsLogin)
    const { account, passedOver } = chooseHandout(doc.accounts, now)
    if (!account) throw noAccountCanServe(doc.accounts, now)
    for (const skipped of passedOver) logger.warn(`${unusableWarning(skipped, now)}; using ${account.label} (${account.id}) instead`)
    return account
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
      this.replace(fresh)
      return fresh
    } catch (error) {
      // The store may have marked it `needs-login`: read that now rather than in a second.
      this.loadedAt = 0
      throw error
    }
  }

  /** Out of service until `until` (quota, rate limit); an expired cooldown counts as ok again. */
  markCooldown(id: string, until: number, reason: string, code: string): Promise<void> {
    const current = this.doc?.accounts.find((a) => a.id === id)
    if (current && effectiveStatus(current, this.now()) === 'cooling-down' && (current.cooldownUntil ?? 0) >= until) {
      return Promise.resolve()
    }
    const error = accountError(reason, this.now(), code)
    return this.edit(id, (a) => Object.assign(a, { status: 'cooling-down', cooldownUntil: until, lastError: error }))
  }

  /** Out of service until the user acts: `not-served` (free tier ended) or `needs-login` (key refused). */
  markUnusable(id: string, status: 'not-served' | 'needs-login', reason: string, code: string): Promise<void> {
    const current = this.doc?.accounts.find((a) => a.id === id)
    if (current?.status === status) return Promise.resolve()
    const error = accountError(reason, this.now(), code)
    return this.edit(id, (a) => {
      Object.assign(a, { status, lastError: error })
      delete a.cooldownUntil
    })
  }

  /** A request succeeded on an account whose stored cooldown had run out: store it as ok again. */
  markServedAgain(account: Account): void {
    if (account.status !== 'cooling-down' || effectiveStatus(account, this.now()) !== 'ok') return
    void this.edit(account.id, (a) => {
      if (a.status !== 'cooling-down' || (a.cooldownUntil ?? 0) > this.now()) return
      a.status = 'ok'
      delete a.cooldownUntil
    })
  }

  /** The next read goes to the store: for a change just made there (the status page's actions). */
  forget(): void {
    this.loadedAt = 0
  }

  /** Resolves once every mark made so far is stored. */
  async settled(): Promise<void> {
    await this.writes
  }

  private async snapshot(): Promise<AccountsDoc> {
    if (this.doc && this.now() - this.loadedAt < this.refreshMs) return this.doc
    this.loading ??= this.load().finally(() => (this.loading = undefined))
    return this.loading
  }

  private async load(): Promise<AccountsDoc> {
    const epoch = this.writeEpoch
    let doc: AccountsDoc
    try {
      doc = await this.ctx.accounts.read()
    } catch (error) {
      if (!this.doc) throw error
      // The store is away (Redis down): serve on with the accounts last read, ask again later.
      this.reportStale(error)
      this.loadedAt = this.now()
      return this.doc
    }
    this.stale = false
    // A mark stored while we read may be missing from what we read: keep the snapshot that has it.
    if (this.doc && epoch !== this.writeEpoch) return this.doc
    for (const { id, edit } of this.unsaved) {
      const account = doc.accounts.find((a) => a.id === id)
      if (account) edit(account)
    }
    this.doc = doc
    this.loadedAt = this.now()
    return doc
  }

  /** Once per streak of failures, and not at all while Redis is away: its backend said so already. */
  private reportStale(error: unknown): void {
    const message = `could not re-read the accounts (${(error as Error).message}); serving with the ones read before`
    if (this.stale || this.storeOffline()) logger.debug(message)
    else logger.warn(message)
    this.stale = true
  }

  private storeOffline(): boolean {
    return this.ctx.redis?.offline() ?? false
  }

  /** Takes a refreshed credential into the snapshot; status marks stay as the snapshot has them. */
  private replace(fresh: Account): void {
    const account = this.doc?.accounts.find((a) => a.id === fresh.id)
    if (!account) return
    for (const field of CREDENTIAL_FIELDS) {
      if (fresh[field] === undefined) delete account[field]
      else Object.assign(account, { [field]: fresh[field] })
    }
  }

  /** Applies an edit to the snapshot at once and stores it in the background, in order. */
  private edit(id: string, change: Edit): Promise<void> {
    const at = this.now()
    const edit: Edit = (a) => {
      change(a)
      a.updatedAt = at
    }
    const account = this.doc?.accounts.find((a) => a.id === id)
    if (account) edit(account)
    const entry = { id, edit }
    this.unsaved.add(entry)
    const stored = this.writes.then(async () => {
      try {
        await this.ctx.accounts.update((doc) => {
          const a = doc.accounts.find((x) => x.id === id)
          if (a) edit(a)
        })
      } catch (error) {
        // The snapshot keeps the mark; with Redis away, one line about the outage is enough.
        const message = `could not store the status of account ${id}: ${(error as Error).message}`
        if (this.storeOffline()) logger.debug(message)
        else logger.warn(message)
      } finally {
        this.writeEpoch++
        this.unsaved.delete(entry)
      }
    })
    this.writes = stored
    return stored
  }
}

/** Nothing to hand out: one line saying why for each account, and what to do. */
function noAccountCanServe(accounts: readonly Account[], now: number): QwenauthError {
  const back = earliestCooldownEnd(accounts, now)
  const when = back === undefined ? '' : ` The first one can serve again in ${formatDuration(back - now)}.`
  return new QwenauthError(`no account can serve right now: ${describeAccounts(accounts, now)}.${when} Wait, fix them, or ${ADD_SERVED_ACCOUNT}`, ExitCode.noUsableAccount)
}
