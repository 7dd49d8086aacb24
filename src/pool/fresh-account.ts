import type { Context } from '../context.ts'
import { apiBaseFromResourceUrl } from '../auth/oauth/constants.ts'
import { RefreshRejectedError, refreshGrant } from '../auth/oauth/refresh-grant.ts'
import type { TokenResponse } from '../auth/oauth/token-response.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { LOCK_NAMES } from '../lib/paths.ts'
import { logger } from '../lib/logger.ts'
import { registerSecret } from '../lib/redact.ts'
import { requireAccount, officialCredsOf } from '../store/account-store.ts'
import type { Account } from '../store/account-model.ts'
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
  // Known before any request, so an error message that repeats the refresh token is redacted.
  remember(account)
  assertLoggedIn(account)
  if (!needsRefresh(account, options)) return account
  options.signal?.throwIfAborted()
  let pending = inflight.get(account.id)
  if (!pending) {
    // Not tied to this caller's signal: one caller giving up (a client that went away) must not
    // fail the others sharing the refresh, nor cut a refresh request the server may already have
    // acted on (the rotated refresh token would be lost with the answer). Every wait is bounded.
    const { signal: _callerOnly, ...shared } = options
    pending = refreshUnderLock(ctx, account.id, shared).finally(() => inflight.delete(account.id))
    pending.catch(() => {}) // callers that gave up no longer listen
    inflight.set(account.id, pending)
  }
  return remember(await untilAborted(pending, options.signal))
}

/** What a client sends as its bearer: the API key, or the OAuth access token. */
export function bearerOf(account: Account): string {
  const credential = account.kind === 'api-key' ? account.apiKey : account.accessToken
  if (!credential) throw new QwenauthError(`account ${account.label} has no usable credential: run \`qwenauth login\``, ExitCode.needsLogin)
  return credential
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
  const waitOpts = { shouldStop: doneByOther }

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
    // A refresh spends the refresh token: first make sure the new one can be stored, or a full
    // disk (or a store that cannot be written) would lose the login.
    await ctx.accounts.update(() => {})
    return await refreshAndSave(ctx, current)
  } finally {
    for (const release of releases.reverse()) await release()
  }
}

async function refreshAndSave(ctx: Context, account: Account): Promise<Account> {
  let tokens: TokenResponse
  try {
    tokens = await refreshWithRetry(ctx.oauthUrl, account.refreshToken ?? '')
  } catch (error) {
    if (error instanceof RefreshRejectedError) {
      const { result: replaced } = await ctx.accounts.update((doc) => {
        const a = doc.accounts.find((x) => x.id === account.id)
        // Someone else (a program that ignored the lock) spent it first and stored the new one:
        // the login is fine.
        if (a && a.refreshToken !== account.refreshToken && a.status !== 'needs-login') return { ...a }
        if (a) Object.assign(a, { status: 'needs-login', lastError: { message: error.message, at: Date.now(), code: 'refresh_rejected' }, updatedAt: Date.now() })
        return undefined
      })
      if (replaced && hasUsableToken(replaced, 0)) return replaced
      if (replaced) throw new QwenauthError(`the refresh token of ${account.label} was replaced while it was being used: try again`)
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

async function refreshWithRetry(oauthUrl: string, refreshToken: string): Promise<TokenResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await refreshGrant(oauthUrl, refreshToken)
    } catch (error) {
      const delay = RETRY_DELAYS_MS[attempt]
      if (error instanceof RefreshRejectedError || delay === undefined) throw error
      logger.debug(`token refresh failed, retrying in ${delay} ms: ${(error as Error).message}`)
      await sleep(delay)
    }
  }
}
