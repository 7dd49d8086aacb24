import { tokenSubject } from '../lib/jwt.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import type { Account } from './account-model.ts'

/** Tokens an OAuth server handed out (a login, a refresh, or the official CLI's file), expiry made absolute. */
export interface GrantedTokens {
  accessToken: string
  /** Absent: the account keeps the refresh token it has (docs/qwen-protocol.md §2); present: it rotates. */
  refreshToken?: string
  tokenType: string
  /** Epoch ms. */
  expiresAt: number
  resourceUrl?: string
}

/** Spends a refresh token; throws RefreshTokenRejected when only a new login helps. */
export type RefreshGrant = (refreshToken: string) => Promise<GrantedTokens>

/** 400/401 to a refresh: the refresh token is dead and only a new login helps. */
export class RefreshTokenRejected extends QwenauthError {
  constructor(detail: string) {
    super(`the refresh token was refused (${detail})`, ExitCode.needsLogin)
  }
}

/** Where the official CLI sends requests when the token names no resource_url (docs/qwen-protocol.md §5). */
export const DEFAULT_API_BASE = 'https://dashscope.aliyuncs.com/compatible-mode/v1'

/** `portal.qwen.ai` → `https://portal.qwen.ai/v1`; a scheme, if given, is kept. */
export function apiBaseFromResourceUrl(resourceUrl: string | undefined): string {
  if (!resourceUrl) return DEFAULT_API_BASE
  const withScheme = /^https?:\/\//i.test(resourceUrl) ? resourceUrl : `https://${resourceUrl}`
  const trimmed = withScheme.replace(/\/+$/, '')
  return trimmed.endsWith('/v1') ? trimmed : `${trimmed}/v1`
}

/**
 * The one way tokens reach an account: a login, a refresh and the official CLI's newer file all
 * go through here, so which fields change (and that an absent refresh token keeps the old one)
 * is decided once. A token the server has just issued proves the login, so `needs-login` is
 * over; other marks are about the API, not the login, and stay.
 */
export function applyTokens(account: Account, tokens: GrantedTokens, now: number): Account {
  const resourceUrl = tokens.resourceUrl ?? account.resourceUrl
  const subject = tokenSubject(tokens.accessToken) ?? account.subject
  const next: Account = {
    ...account,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: tokens.expiresAt,
    baseUrl: apiBaseFromResourceUrl(resourceUrl),
    status: account.status === 'needs-login' ? 'ok' : account.status,
    updatedAt: now,
  }
  const refreshToken = tokens.refreshToken ?? account.refreshToken
  if (refreshToken) next.refreshToken = refreshToken
  if (resourceUrl) next.resourceUrl = resourceUrl
  if (subject) next.subject = subject
  return next
}
