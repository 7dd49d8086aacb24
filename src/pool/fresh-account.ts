import type { Context } from '../context.ts'
import { apiBaseFromResourceUrl } from '../auth/oauth-constants.ts'
import { RefreshRejectedError, refreshGrant } from '../auth/refresh-grant.ts'
import type { TokenResponse } from '../auth/tokens.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { LOCK_NAMES } from '../lib/paths.ts'
import { logger } from '../lib/logger.ts'
import { registerSecret } from '../lib/redact.ts'
import { requireAccount, officialCredsOf } from '../store/accounts.ts'
import type { Account } from '../store/account.ts'
import { writeOfficialCreds } from '../store/creds-file.ts'
import { sleep, type Release } from '../store/locker.ts'

export const DEFAULT_MARGIN_MS = 30_000
const RETRY_DELAYS_MS = [500, 1500]

export interface FreshOptions {
  /** Refresh when fewer than this many ms remain. */
  marginMs?: number
  /** The caller saw this access token refused: refresh unless someone already replaced it. */
  rejectedToken?: string
  signal?: AbortSignal
}

/** In-process sharing: concurrent callers for one account wait on the same refresh. */
const inflight = new Map<string, Promise<Account>>()

export function hasUsableToken(account: Account, marginMs = DEFAULT_MARGIN_MS, now = Date.now()): boolean {
  if (account.kind === 'api-key') return Boolean(account.apiKey)
  return Boolean(account.accessToken) && (account.expiresAt ?? 0) - marginMs > now
}

/**
 * The one way to get an account whose credential can be used right now. API keys are returned
 * as they are; OAuth tokens are refreshed when they are about to expire, under locks that keep
 * any two processes (qwenauth or the official CLI) from spending one refresh token twice.
 */
export async function freshAccount(ctx: Context, idOrLabel: string, options: FreshOptions = {}): Promise<Account> {
  const account = requireAccount(await ctx.accounts.read(), idOrLabel)
  if (account.kind === 'api-key') return account
  assertLoggedIn(account)
  if (!needsRefresh(account, options)) return remember(account)
  let pending = inflight.get(account.id)
  if (!pending) {
    pending = refreshUnderLock(ctx, account.id, options).finally(() => inflight.delete(account.id))
    inflight.set(account.id, pending)
  }
  return remember(await pending)
}

function needsRefresh(account: Account, options: FreshOptions): boolean {
  if (options.rejectedToken && account.accessToken === options.rejectedToken) return true
  return !hasUsableToken(account, options.marginMs ?? DEFAULT_MARGIN_MS)
}

function assertLoggedIn(account: Account): void {
  if (account.status === 'needs-login' || !account.refreshToken) {
    throw new QwenauthError(
      `account ${account.label} needs a new login (${account.lastError?.message ?? 'no refresh token'}): run \`qwenauth login\``,
      ExitCode.needsLogin,
    )
  }
}

function remember(account: Account): Account {
  registerSecret(account.accessToken)
  registerSecret(account.refreshToken)
  return account
}

async function refreshUnderLock(ctx: Context, id: string, options: FreshOptions): Promise<Account> {
  const reread = async () => requireAccount(await ctx.accounts.read(), id)
  // Between tries, another holder may have refreshed already: then there is nothing to do.
  const doneByOther = async () => !needsRefresh(await reread(), options)
  const waitOpts = { shouldStop: doneByOther, ...(options.signal ? { signal: options.signal } : {}) }

  const releases: Release[] = []
  try {
    const accountLock = await ctx.locker.acquire(LOCK_NAMES.account(id), waitOpts)
    if (!accountLock) return reread()
    releases.push(accountLock)
    // The mirrored account is also refreshed by the official CLI, which only knows its own lock.
    if (ctx.accounts.isMirrored(await ctx.accounts.read(), id)) {
      const credsLock = await ctx.locker.acquire(LOCK_NAMES.creds, waitOpts)
      if (!credsLock) return reread()
      releases.push(credsLock)
    }
    const current = await reread()
    assertLoggedIn(current)
    if (!needsRefresh(current, options)) return current
    return await refreshAndSave(ctx, current, options.signal)
  } finally {
    for (const release of releases.reverse()) await release()
  }
}

async function refreshAndSave(ctx: Context, account: Account, signal?: AbortSignal): Promise<Account> {
  let tokens: TokenResponse
  try {
    tokens = await refreshWithRetry(ctx.oauthUrl, account.refreshToken ?? '', signal)
  } catch (error) {
    if (error instanceof RefreshRejectedError) {
      await ctx.accounts.update((doc) => {
        const a = doc.accounts.find((x) => x.id === account.id)
        if (a) Object.assign(a, { status: 'needs-login', lastError: { message: error.message, at: Date.now(), code: 'refresh_rejected' }, updatedAt: Date.now() })
      })
      throw new QwenauthError(`account ${account.label} needs a new login: ${error.message}; run \`qwenauth login\``, ExitCode.needsLogin)
    }
    throw error
  }
  const now = Date.now()
  const refreshed: Account = {
    ...account,
    accessToken: tokens.accessToken,
    // Absent means "keep the old one"; present replaces it (rotation).
    refreshToken: tokens.refreshToken ?? account.refreshToken,
    tokenType: tokens.tokenType,
    expiresAt: now + tokens.expiresIn * 1000,
    ...(tokens.resourceUrl ? { resourceUrl: tokens.resourceUrl, baseUrl: apiBaseFromResourceUrl(tokens.resourceUrl) } : {}),
    status: account.status === 'needs-login' ? 'ok' : account.status,
    updatedAt: now,
  }
  // The official CLI reads only oauth_creds.json, so it is written first: if we die before
  // accounts.json, the next read adopts the file's newer tokens instead of a dead refresh token.
  const doc = await ctx.accounts.read()
  if (ctx.accounts.isMirrored(doc, account.id)) await writeOfficialCreds(ctx.storage, officialCredsOf(refreshed))
  await ctx.accounts.update((d) => {
    const a = d.accounts.find((x) => x.id === account.id)
    if (!a) return
    Object.assign(a, {
      accessToken: refreshed.accessToken,
      refreshToken: refreshed.refreshToken,
      tokenType: refreshed.tokenType,
      expiresAt: refreshed.expiresAt,
      resourceUrl: refreshed.resourceUrl,
      baseUrl: refreshed.baseUrl,
      updatedAt: now,
    })
    if (a.status === 'needs-login') a.status = 'ok'
  })
  logger.debug(`refreshed the token of ${account.label}`)
  return refreshed
}

async function refreshWithRetry(oauthUrl: string, refreshToken: string, signal?: AbortSignal): Promise<TokenResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await refreshGrant(oauthUrl, refreshToken, signal)
    } catch (error) {
      const delay = RETRY_DELAYS_MS[attempt]
      if (error instanceof RefreshRejectedError || delay === undefined || signal?.aborted) throw error
      logger.debug(`token refresh failed, retrying in ${delay} ms: ${(error as Error).message}`)
      await sleep(delay, signal)
    }
  }
}
