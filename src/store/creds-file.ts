import type { Storage } from 'unstorage'
import { KEYS } from '../lib/paths.ts'
import type { Account } from './account-model.ts'
import { readText } from './json-item.ts'
import type { GrantedTokens } from './tokens.ts'

/** `~/.qwen/oauth_creds.json` exactly as the official CLI writes and reads it. */
export interface OfficialCreds {
  access_token: string
  refresh_token: string
  token_type: string
  resource_url?: string
  expiry_date: number
}

/** The official CLI's validity rule: anything else is treated as no file at all. */
export function parseOfficialCreds(text: string | undefined): OfficialCreds | undefined {
  if (!text) return undefined
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!data || typeof data !== 'object') return undefined
  const d = data as Record<string, unknown>
  const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0
  if (!nonEmpty(d.access_token) || !nonEmpty(d.refresh_token) || !nonEmpty(d.token_type)) return undefined
  // `!creds.expiry_date` in the official validateCredentials: 0 counts as missing.
  if (typeof d.expiry_date !== 'number' || !Number.isFinite(d.expiry_date) || d.expiry_date === 0) return undefined
  return {
    access_token: d.access_token,
    refresh_token: d.refresh_token,
    token_type: d.token_type,
    ...(nonEmpty(d.resource_url) ? { resource_url: d.resource_url } : {}),
    expiry_date: d.expiry_date,
  }
}

export async function readOfficialCreds(storage: Storage): Promise<OfficialCreds | undefined> {
  return parseOfficialCreds(await readText(storage, KEYS.credsFile))
}

/** Same key order and 2-space JSON as the official CLI. Callers hold the creds lock. */
export async function writeOfficialCreds(storage: Storage, creds: OfficialCreds): Promise<void> {
  const ordered: OfficialCreds = {
    access_token: creds.access_token,
    refresh_token: creds.refresh_token,
    token_type: creds.token_type,
    ...(creds.resource_url ? { resource_url: creds.resource_url } : {}),
    expiry_date: creds.expiry_date,
  }
  await storage.setItemRaw(KEYS.credsFile, JSON.stringify(ordered, null, 2))
}

export async function removeOfficialCreds(storage: Storage): Promise<void> {
  await storage.removeItem(KEYS.credsFile)
}

/** An account's tokens as the official CLI keeps them. */
export function officialCredsOf(account: Account): OfficialCreds {
  return {
    access_token: account.accessToken ?? '',
    refresh_token: account.refreshToken ?? '',
    token_type: account.tokenType ?? 'Bearer',
    ...(account.resourceUrl ? { resource_url: account.resourceUrl } : {}),
    expiry_date: account.expiresAt ?? 0,
  }
}

/** The file's tokens as tokens granted to an account. */
export function tokensOfCreds(creds: OfficialCreds): GrantedTokens {
  return {
    accessToken: creds.access_token,
    refreshToken: creds.refresh_token,
    tokenType: creds.token_type,
    expiresAt: creds.expiry_date,
    ...(creds.resource_url ? { resourceUrl: creds.resource_url } : {}),
  }
}
