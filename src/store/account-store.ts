import type { Storage } from 'unstorage'
import { DEFAULTS } from '../defaults.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { LOCK_NAMES } from '../lib/paths.ts'
import { accountError, hasUsableToken, requireAccount, type Account, type AccountsDoc } from './account-model.ts'
import { AccountsDocument } from './accounts-document.ts'
import { officialCredsOf, readOfficialCreds, removeOfficialCreds, writeOfficialCreds } from './creds-file.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import type { Locker, Release } from './locker.ts'
import { holdExitUntil, isExiting, settledWithin } from '../lib/unfinished-work.ts'
import { applyTokens, RefreshTokenRejected, type GrantedTokens, type RefreshGrant } from './tokens.ts'

export interface FreshOptions {
  /** Refresh when fewer than this many ms remain (default: the official CLI's 30 s). */
  marginMs?: number
  /** The caller saw this access token refused: refresh unless someone already replaced it. */
  rejectedToken?: string
  signal?: AbortSignal
}

const REFRESH_RETRY_DELAYS_MS = [500, 1500]
/** Beyond the refresh request's own timeout, the time an exit gives a refresh to store its answer. */
const STORE_ANSWER_MS = 2_000

/**
 * The accounts and the protocol that keeps their credentials safe, in one place:
 * - locks are always taken in the order account lock, creds lock (`oauth_creds.lock`, shared with
 *   the official CLI, for the account mirrored in `oauth_creds.json`), store lock;
 * - a refresh re-reads the account under its locks and refreshes only if still needed, so no two
 *   processes (qwenauth or the official CLI) ever spend one rotating refresh token;
 * - `oauth_creds.json` is written before `accounts.json`, so a process that dies in between
 *   leaves the newer tokens where the next read adopts them.
 * The refresh request itself (`grant`) comes from the caller; this file knows no OAuth server.
 * Once a refresh request is on its way, the server may spend the old refresh token at any moment
 * and the new one exists only in its answer: such a refresh is never cut. It is registered as
 * work an exit waits for (lib/unfinished-work.ts), and `settle()` waits for it before a store
 * closes; once an exit has begun, no new refresh request (nor a retry) is started.
 */
export class AccountStore extends AccountsDocument {
  /** In-process sharing: concurrent callers for one account wait on the same refresh. */
  private readonly inflight = new Map<string, Promise<Account>>()
  /** Refreshes whose request may have reached the server: from the request until stored and unlocked. */
  private readonly spending = new Set<Promise<void>>()

  private readonly grant: RefreshGrant | undefined
  private readonly clock: Clock
  /** The longest an exit waits for a refresh under way: one request's timeout, then the write. */
  private readonly finishWithinMs: number

  constructor(
    storage: Storage,
    locker: Locker,
    where: string,
    options: { mirrorCreds: boolean; grant?: RefreshGrant; clock?: Clock; refreshTimeoutMs?: number },
  ) {
    super(storage, locker, where, options.mirrorCreds)
    this.grant = options.grant
    this.clock = options.clock ?? systemClock
    this.finishWithinMs = (options.refreshTimeoutMs ?? DEFAULTS.refreshTimeoutMs) + STORE_ANSWER_MS
  }

  /**
   * Before the storage is closed (a Redis connection): waits for the refreshes already under
   * way to be stored, at most the refresh timeout and a moment to write the answer.
   */
  async settle(): Promise<void> {
    await Promise.all([...this.spending].map((done) => settledWithin(done, this.finishWithinMs)))
  }

  /** Whether this account's tokens live in oauth_creds.json too (and so need the official lock). */
  isMirrored(doc: AccountsDoc, id: string): boolean {
    return this.mirrorCreds && doc.mirrored === id
  }

  /**
   * The one way to get an account whose credential can be used right now. API keys are returned
   * as they are; OAuth tokens are refreshed when they are about to expire, under the locks.
   */
  async fresh(idOrLabel: string, options: FreshOptions = {}): Promise<Account> {
    const account = requireAccount(await this.read(), idOrLabel)
    if (account.kind === 'api-key') return account
    assertLoggedIn(account)
    if (!needsRefresh(account, options)) return account
    options.signal?.throwIfAborted()
    let pending = this.inflight.get(account.id)
    if (!pending) {
      // Not tied to this caller's signal: one caller giving up (a client that went away) must not
      // fail the others sharing the refresh, nor cut a refresh request the server may already have
      // acted on (the rotated refresh token would be lost with the answer). Every wait is bounded.
      const { signal: _callerOnly, ...shared } = options
      pending = this.refreshUnderLock(account.id, shared).finally(() => this.inflight.delete(account.id))
      pending.catch(() => {}) // callers that gave up no longer listen
      this.inflight.set(account.id, pending)
    }
    return untilAborted(pending, options.signal)
  }

  /**
   * Makes oauth_creds.json hold the first Qwen OAuth account in pool order, so the official
   * CLI uses the account qwenauth considers active.
   */
  async syncMirror(): Promise<void> {
    if (!this.mirrorCreds) return
    // The target's own lock first (the lock order): while a refresh of it is in flight, its
    // stored refresh token is being spent, and the official CLI must not be handed that one.
    // A pool reordered meanwhile is tried again, a bounded number of times.
    for (let attempt = 0; attempt < 3; attempt++) {
      const expected = mirrorTarget(await this.read())
      if (!expected) return
      const releaseAccount = await this.locker.acquire(LOCK_NAMES.account(expected.id))
      try {
        const synced = await this.withCredsLock(async () => {
          const doc = await this.read()
          const target = mirrorTarget(doc)
          if (target?.id !== expected.id) return false
          const current = await readOfficialCreds(this.storage)
          const inSync = doc.mirrored === target.id && current?.access_token === target.accessToken && current?.refresh_token === target.refreshToken
          if (inSync) return true
          await writeOfficialCreds(this.storage, officialCredsOf(target))
          await this.update((d) => void (d.mirrored = target.id))
          return true
        })
        if (synced) return
      } finally {
        await releaseAccount?.()
      }
    }
  }

  /** Removes accounts; oauth_creds.json goes with the account it holds. A file we never wrote stays. */
  async remove(ids: string[]): Promise<void> {
    if (!this.mirrorCreds) {
      await this.update((d) => void (d.accounts = d.accounts.filter((a) => !ids.includes(a.id))))
      return
    }
    await this.withCredsLock(async () => {
      const { mirrored } = await this.read()
      if (mirrored && ids.includes(mirrored)) await removeOfficialCreds(this.storage)
      await this.update((d) => {
        d.accounts = d.accounts.filter((a) => !ids.includes(a.id))
        if (d.mirrored && ids.includes(d.mirrored)) delete d.mirrored
      })
    })
  }

  private async withCredsLock<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.locker.acquire(LOCK_NAMES.creds)
    try {
      return await work()
    } finally {
      await release?.()
    }
  }

  private async refreshUnderLock(id: string, options: FreshOptions): Promise<Account> {
    const reread = async () => requireAccount(await this.read(), id)
    // Between tries, another holder may have refreshed already: then there is nothing to do.
    const waitOpts = { shouldStop: async () => !needsRefresh(await reread(), options) }
    const releases: Release[] = []
    let finished: (() => void) | undefined
    try {
      const accountLock = await this.locker.acquire(LOCK_NAMES.account(id), waitOpts)
      if (!accountLock) return reread()
      releases.push(accountLock)
      // The mirrored account is also refreshed by the official CLI, which only knows its own lock.
      if (this.isMirrored(await this.read(), id)) {
        const credsLock = await this.locker.acquire(LOCK_NAMES.creds, waitOpts)
        if (!credsLock) return reread()
        releases.push(credsLock)
      }
      const current = await reread()
      assertLoggedIn(current)
      if (!needsRefresh(current, options)) return current
      // A refresh spends the refresh token: first make sure the new one can be stored, or a full
      // disk (or a store that cannot be written) would lose the login.
      await this.update(() => {})
      // From here on the server may act on the request: the exit waits until it is stored.
      this.assertNotExiting(current)
      finished = this.holdExit()
      return await this.refreshAndSave(current)
    } finally {
      try {
        for (const release of releases.reverse()) await release()
      } finally {
        finished?.()
      }
    }
  }

  /** Registers a refresh an exit must wait for; the function returned says it is done. */
  private holdExit(): () => void {
    let finished!: () => void
    const done = new Promise<void>((resolve) => (finished = resolve))
    this.spending.add(done)
    void done.then(() => this.spending.delete(done))
    holdExitUntil('a token refresh', done, this.finishWithinMs)
    return finished
  }

  /** No refresh request is started by a process on its way out: it could not wait for the answer. */
  private assertNotExiting(account: Account): void {
    if (isExiting()) throw new QwenauthError(`did not refresh the token of ${account.label}: qwenauth is exiting`)
  }

  private async refreshAndSave(account: Account): Promise<Account> {
    if (!this.grant) throw new QwenauthError(`cannot refresh the token of ${account.label}: this store was opened without an OAuth server`)
    let tokens: GrantedTokens
    try {
      tokens = await this.grantWithRetry(this.grant, account.refreshToken ?? '')
    } catch (error) {
      if (error instanceof RefreshTokenRejected) return this.markRefreshRejected(account, error)
      throw error
    }
    const now = Date.now()
    const refreshed = applyTokens(account, tokens, now)
    // The official CLI reads only oauth_creds.json, so it is written first: if we die before
    // accounts.json, the next read adopts the file's newer tokens instead of a dead refresh token.
    if (this.isMirrored(await this.read(), account.id)) await writeOfficialCreds(this.storage, officialCredsOf(refreshed))
    await this.update((doc) => {
      const index = doc.accounts.findIndex((x) => x.id === account.id)
      const stored = doc.accounts[index]
      // Marks set meanwhile (a cooldown by the proxy) are the stored copy's; the tokens are ours.
      if (stored) doc.accounts[index] = applyTokens(stored, tokens, now)
    })
    logger.debug(`refreshed the token of ${account.label}`)
    return refreshed
  }

  /** 400/401 to the refresh: the login is dead, unless someone else already stored a new one. */
  private async markRefreshRejected(account: Account, error: RefreshTokenRejected): Promise<Account> {
    const { result: replaced } = await this.update((doc) => {
      const a = doc.accounts.find((x) => x.id === account.id)
      // Someone else (a program that ignored the lock) spent it first and stored the new one:
      // the login is fine.
      if (a && a.refreshToken !== account.refreshToken && a.status !== 'needs-login') return { ...a }
      if (a) Object.assign(a, { status: 'needs-login', lastError: accountError(error.message, Date.now(), 'refresh_rejected'), updatedAt: Date.now() })
      return undefined
    })
    if (replaced && hasUsableToken(replaced, 0)) return replaced
    if (replaced) throw new QwenauthError(`the refresh token of ${account.label} was replaced while it was being used: try again`)
    throw new QwenauthError(`account ${account.label} needs a new login: ${error.message}; run \`qwenauth login\``, ExitCode.needsLogin)
  }

  private async grantWithRetry(grant: RefreshGrant, refreshToken: string): Promise<GrantedTokens> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await grant(refreshToken)
      } catch (error) {
        const delay = REFRESH_RETRY_DELAYS_MS[attempt]
        // On the way out, no new request: the exit could not wait for its answer.
        if (error instanceof RefreshTokenRejected || delay === undefined || isExiting()) throw error
        logger.debug(`token refresh failed, retrying in ${delay} ms: ${(error as Error).message}`)
        await this.clock.sleep(delay)
        if (isExiting()) throw error
      }
    }
  }
}

function needsRefresh(account: Account, options: FreshOptions): boolean {
  if (options.rejectedToken && account.accessToken === options.rejectedToken) return true
  return !hasUsableToken(account, options.marginMs ?? DEFAULTS.tokenRefreshMarginMs)
}

function assertLoggedIn(account: Account): void {
  if (account.status === 'needs-login' || !account.refreshToken) {
    throw new QwenauthError(
      `account ${account.label} needs a new login (${account.lastError?.message ?? 'no refresh token'}): run \`qwenauth login\``,
      ExitCode.needsLogin,
    )
  }
}

/** The work's result, or the signal's reason as soon as it aborts (the work goes on). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** The account oauth_creds.json should hold: the first Qwen OAuth login in pool order. */
function mirrorTarget(doc: AccountsDoc): Account | undefined {
  return doc.accounts.find((a) => a.kind === 'qwen-oauth' && a.accessToken && a.refreshToken)
}
