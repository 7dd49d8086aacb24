import type { Context } from '../context.ts'
import { logger } from '../lib/logger.ts'
import type { Account, AccountsDoc } from '../store/account-model.ts'

type Edit = (account: Account) => void

const CREDENTIAL_FIELDS = ['accessToken', 'refreshToken', 'tokenType', 'expiresAt', 'resourceUrl', 'baseUrl', 'apiKey'] as const

/**
 * The pool's copy of the accounts document, so the hot path does no file I/O: read again at
 * most every `refreshMs` (marks written by other processes show up within a second), served on
 * as it is while the store is away, and edited at once with each edit stored in the background,
 * in order, and kept over any read that began before it was stored.
 */
export class AccountsSnapshot {
  private doc: AccountsDoc | undefined
  private loadedAt = 0
  private loading: Promise<AccountsDoc> | undefined
  /** Bumped whenever an edit reaches the store: a read that began before it is outdated. */
  private writeEpoch = 0
  /** Edits applied to the snapshot but not yet stored; re-applied over any fresh read. */
  private readonly unsaved = new Set<{ id: string; edit: Edit }>()
  private writes: Promise<void> = Promise.resolve()
  /** The last read of the store failed; the snapshot is older than `refreshMs`. */
  private stale = false

  constructor(
    private readonly ctx: Context,
    private readonly refreshMs: number,
    private readonly now: () => number,
  ) {}

  /** The account as the snapshot holds it now, if it was read. */
  find(id: string): Account | undefined {
    return this.doc?.accounts.find((a) => a.id === id)
  }

  /** The next `read` goes to the store. */
  expire(): void {
    this.loadedAt = 0
  }

  /** Resolves once every edit made so far is stored. */
  async settled(): Promise<void> {
    await this.writes
  }

  /** The document as of at most `refreshMs` ago; concurrent callers share one read. */
  async read(): Promise<AccountsDoc> {
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
  replaceCredential(fresh: Account): void {
    const account = this.doc?.accounts.find((a) => a.id === fresh.id)
    if (!account) return
    for (const field of CREDENTIAL_FIELDS) {
      if (fresh[field] === undefined) delete account[field]
      else Object.assign(account, { [field]: fresh[field] })
    }
  }

  /** Applies an edit to the snapshot at once and stores it in the background, in order. */
  edit(id: string, change: Edit): Promise<void> {
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
