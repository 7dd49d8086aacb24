import { createHash, randomBytes } from 'node:crypto'
import { tokenLabel, tokenSubject } from '../lib/jwt.ts'
import type { Account, AccountsDoc } from './account-model.ts'
import { tokensOfCreds, type OfficialCreds } from './creds-file.ts'
import { applyTokens } from './tokens.ts'

export function oauthAccountId(subject: string | undefined): string {
  const seed = subject ? createHash('sha256').update(subject).digest('hex') : randomBytes(8).toString('hex')
  return `qwen-${seed.slice(0, 8)}`
}

/** A Qwen OAuth account with no tokens yet, for a login or an import to apply its tokens to. */
export function newOAuthAccount(id: string, label: string, now: number): Account {
  return { id, label, kind: 'qwen-oauth', provider: 'qwen-oauth', baseUrl: '', status: 'ok', createdAt: now, updatedAt: now }
}

/**
 * Folds `oauth_creds.json` into the account list. The official CLI may have refreshed the
 * mirrored account (rotating its refresh token) or logged in on its own; either way the file
 * holds the newest tokens for that login, and our copy must follow or it would hold a dead
 * refresh token. Returns undefined when the file changes nothing.
 */
export function reconcileWithCreds(doc: AccountsDoc, creds: OfficialCreds | undefined, now = Date.now()): AccountsDoc | undefined {
  if (!creds) return undefined
  const oauth = doc.accounts.filter((a) => a.kind === 'qwen-oauth')
  const subject = tokenSubject(creds.access_token)
  const mirrored = oauth.find((a) => a.id === doc.mirrored)
  const sameTokens = (a: Account) => a.accessToken === creds.access_token && a.refreshToken === creds.refresh_token

  if (mirrored && sameTokens(mirrored)) return undefined
  const target =
    (subject && oauth.find((a) => a.subject === subject)) ||
    oauth.find((a) => a.refreshToken === creds.refresh_token || a.accessToken === creds.access_token) ||
    // An undecodable token cannot be told apart: most likely the official CLI refreshed our login.
    (mirrored && (!subject || !mirrored.subject) ? mirrored : undefined)

  if (target) {
    if (sameTokens(target)) return doc.mirrored === target.id ? undefined : { ...doc, mirrored: target.id }
    // Our copy is newer (we refreshed after the file was written): keep it.
    if (creds.expiry_date < (target.expiresAt ?? 0)) return undefined
    const adopted = applyTokens(target, tokensOfCreds(creds), now)
    // The official CLI logged in or refreshed with it: give the login another chance to serve.
    if (adopted.status === 'not-served') adopted.status = 'ok'
    return { ...doc, mirrored: target.id, accounts: doc.accounts.map((a) => (a.id === target.id ? adopted : a)) }
  }

  const id = oauthAccountId(subject)
  const imported = applyTokens(newOAuthAccount(id, tokenLabel(creds.access_token) ?? id, now), tokensOfCreds(creds), now)
  return { ...doc, mirrored: id, accounts: [...doc.accounts, imported] }
}
