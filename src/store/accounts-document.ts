import type { Storage } from 'unstorage'
import { QwenauthError } from '../lib/errors.ts'
import { KEYS, LOCK_NAMES } from '../lib/paths.ts'
import { emptyDoc, registerAccountSecrets, type Account, type AccountsDoc } from './account-model.ts'
import { readOfficialCreds, type OfficialCreds } from './creds-file.ts'
import { reconcileWithCreds } from './creds-reconcile.ts'
import { readOwnJson, writeJson } from './json-item.ts'
import type { Locker } from './locker.ts'

/**
 * `qwenauth/accounts.json` (or its Redis key): read, checked, and changed under the store lock,
 * with the official CLI's `oauth_creds.json` folded in. Every secret read or written here is
 * registered for redaction, so no caller has to.
 */
export class AccountsDocument {
  constructor(
    readonly storage: Storage,
    readonly locker: Locker,
    /** For messages: where the document lives. */
    readonly where: string,
    /** Keep oauth_creds.json in step (a directory store shared with the official CLI). */
    readonly mirrorCreds: boolean,
  ) {}

  /** The document with oauth_creds.json folded in (persisted when that changed anything). */
  async read(): Promise<AccountsDoc> {
    const doc = await this.load()
    if (!reconcileWithCreds(doc, await this.officialCreds())) return doc
    return this.update(() => {})
  }

  /** Read-modify-write under the store lock; `change` edits the fresh document in place. */
  async update<T>(change: (doc: AccountsDoc) => T | Promise<T>): Promise<AccountsDoc & { result: T }> {
    const release = await this.locker.acquire(LOCK_NAMES.store)
    try {
      let doc = await this.load()
      doc = reconcileWithCreds(doc, await this.officialCreds()) ?? doc
      const result = await change(doc)
      registerAccountSecrets(doc.accounts)
      await writeJson(this.storage, KEYS.accounts, doc)
      return Object.assign(doc, { result })
    } finally {
      await release?.()
    }
  }

  protected async officialCreds(): Promise<OfficialCreds | undefined> {
    return this.mirrorCreds ? readOfficialCreds(this.storage) : undefined
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
    registerAccountSecrets(doc.accounts)
    return doc as AccountsDoc
  }
}

function isAccountShaped(value: unknown): boolean {
  const a = value as Partial<Account> | null
  return Boolean(a && typeof a === 'object' && typeof a.id === 'string' && typeof a.label === 'string' && (a.kind === 'qwen-oauth' || a.kind === 'api-key'))
}
