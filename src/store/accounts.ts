import type { Storage } from 'unstorage'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { KEYS, LOCK_NAMES } from '../lib/paths.ts'
import { emptyDoc, findAccount, type Account, type AccountsDoc } from './account.ts'
import { readOfficialCreds, removeOfficialCreds, writeOfficialCreds, type OfficialCreds } from './creds-file.ts'
import { reconcileWithCreds } from './creds-reconcile.ts'
import { readOwnJson, writeJson } from './json-item.ts'
import type { Locker } from './locker.ts'

/**
 * The multi-account document and its mirror in oauth_creds.json.
 * Lock order, everywhere: account lock, then the creds lock, then the store lock.
 */
export class AccountStore {
  constructor(
    readonly storage: Storage,
    readonly locker: Locker,
    /** For messages: where the document lives. */
    readonly where: string,
    /** Keep oauth_creds.json in step (a directory store shared with the official CLI). */
    readonly options: { mirrorCreds: boolean } = { mirrorCreds: true },
  ) {}

  /** Whether this account's tokens live in oauth_creds.json too (and so need the official lock). */
  isMirrored(doc: AccountsDoc, id: string): boolean {
    return this.options.mirrorCreds && doc.mirrored === id
  }

  private async officialCreds(): Promise<OfficialCreds | undefined> {
    return this.options.mirrorCreds ? readOfficialCreds(this.storage) : undefined
  }

  /** The document with oauth_creds.json folded in (persisted when that changed anything). */
  async read(): Promise<AccountsDoc> {
    const doc = await this.load()
    if (!reconcileWithCreds(doc, await this.officialCreds())) return doc
    return this.update(() => {})
  }

  async get(idOrLabel: string): Promise<Account> {
    const doc = await this.read()
    return requireAccount(doc, idOrLabel)
  }

  /** Read-modify-write under the store lock; `change` edits the fresh document in place. */
  async update<T>(change: (doc: AccountsDoc) => T | Promise<T>): Promise<AccountsDoc & { result: T }> {
    const release = await this.locker.acquire(LOCK_NAMES.store)
    try {
      let doc = await this.load()
      doc = reconcileWithCreds(doc, await this.officialCreds()) ?? doc
      const result = await change(doc)
      await writeJson(this.storage, KEYS.accounts, doc)
      return Object.assign(doc, { result })
    } finally {
      await release?.()
    }
  }

  /**
   * Makes oauth_creds.json hold the first Qwen OAuth account in pool order, so the official
   * CLI uses the account qwenauth considers active.
   */
  async syncMirror(): Promise<void> {
    if (!this.options.mirrorCreds) return
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
    if (!this.options.mirrorCreds) {
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

  private async load(): Promise<AccountsDoc> {
    const data = await readOwnJson(this.storage, KEYS.accounts, this.where)
    if (data === undefined) return emptyDoc()
    const doc = (data && typeof data === 'object' ? data : {}) as Partial<AccountsDoc>
    if (typeof doc.version === 'number' && doc.version > 1) {
      throw new QwenauthError(`${this.where} has a format this qwenauth does not know (version ${doc.version}); upgrade qwenauth`)
    }
    // Valid JSON can still be damaged (a hand edit, another tool): say so, not a TypeError later.
    if (doc.version !== 1 || !Array.isArray(doc.accounts) || !doc.accounts.every(isAccountShaped)) {
      throw new QwenauthError(`${this.where} is damaged (not a qwenauth accounts document): repair it, or move it aside and log in again`)
    }
    return doc as AccountsDoc
  }
}

export function requireAccount(doc: AccountsDoc, idOrLabel: string): Account {
  if (!idOrLabel.trim()) throw new QwenauthError('an account id or label is empty: name one (see `qwenauth status`)', ExitCode.usage)
  const account = findAccount(doc, idOrLabel)
  if (account) return account
  const lower = idOrLabel.toLowerCase()
  const candidates = doc.accounts.filter((a) => a.label.toLowerCase() === lower || a.id.toLowerCase().startsWith(lower))
  if (candidates.length > 1) {
    const listed = candidates.map((a) => `${a.id} (${a.label})`).join(', ')
    throw new QwenauthError(`"${idOrLabel}" names more than one account: ${listed}; give more of the id`, ExitCode.usage)
  }
  const known = doc.accounts.map((a) => a.id).join(', ') || 'none; run `qwenauth login`'
  throw new QwenauthError(`no account "${idOrLabel}" (accounts: ${known})`, ExitCode.usage)
}

function isAccountShaped(value: unknown): boolean {
  const a = value as Partial<Account> | null
  return Boolean(a && typeof a === 'object' && typeof a.id === 'string' && typeof a.label === 'string' && (a.kind === 'qwen-oauth' || a.kind === 'api-key'))
}

/** The account oauth_creds.json should hold: the first Qwen OAuth login in pool order. */
function mirrorTarget(doc: AccountsDoc): Account | undefined {
  return doc.accounts.find((a) => a.kind === 'qwen-oauth' && a.accessToken && a.refreshToken)
}

export function officialCredsOf(account: Account): OfficialCreds {
  return {
    access_token: account.accessToken ?? '',
    refresh_token: account.refreshToken ?? '',
    token_type: account.tokenType ?? 'Bearer',
    ...(account.resourceUrl ? { resource_url: account.resourceUrl } : {}),
    expiry_date: account.expiresAt ?? 0,
  }
}
