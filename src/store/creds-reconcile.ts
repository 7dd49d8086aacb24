import { createHash, randomBytes } from 'node:crypto'
import { tokenLabel, tokenSubject } from '../lib/jwt.ts'
import { apiBaseFromResourceUrl } from '../auth/oauth/constants.ts'
import type { Account, AccountsDoc } from './account-model.ts'
import type { OfficialCreds } from './creds-file.ts'

export function oauthAccountId(subject: string | undefined): string {
  const seed = subject ? createHash('sha256').update(subject).digest('hex') : randomBytes(8).toString('hex')
  return `qwen-${seed.slice(0, 8)}`
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
    const adopted: Account = {
      ...target,
      accessToken: creds.access_token,
      refreshToken: creds.refresh_token,
      tokenType: creds.token_type,
      resourceUrl: creds.resource_url ?? target.resourceUrl,
      baseUrl: apiBaseFromResourceUrl(creds.resource_url ?? target.resourceUrl),
      expiresAt: creds.expiry_date,
      subject: subject ?? target.subject,
      status: target.status === 'needs-login' || target.status === 'not-served' ? 'ok' : target.status,
      updatedAt: now,
    }
    return { ...doc, mirrored: target.id, accounts: doc.accounts.map((a) => (a.id === target.id ? adopted : a)) }
  }

  const id = oauthAccountId(subject)
  const imported: Account = {
    id,
    label: tokenLabel(creds.access_token) ?? id,
    kind: 'qwen-oauth',
    provider: 'qwen-oauth',
    baseUrl: apiBaseFromResourceUrl(creds.resource_url),
    accessToken: creds.access_token,
    refreshToken: creds.refresh_token,
    tokenType: creds.token_type,
    ...(creds.resource_url ? { resourceUrl: creds.resource_url } : {}),
    expiresAt: creds.expiry_date,
    ...(subject ? { subject } : {}),
    status: 'ok',
    createdAt: now,
    updatedAt: now,
  }
  return { ...doc, mirrored: id, accounts: [...doc.accounts, imported] }
}
