import type { Context } from '../../context.ts'
import { registerSecret } from '../../lib/redact.ts'
import type { Account } from '../../store/account-model.ts'
import { oauthAccountId } from '../../store/creds-reconcile.ts'
import { tokenLabel, tokenSubject } from '../../lib/jwt.ts'
import { apiBaseFromResourceUrl } from './constants.ts'
import type { TokenResponse } from './token-response.ts'

/**
 * Stores a fresh Qwen OAuth login as the active account. The same login (same subject) updates
 * its account in place instead of adding a twin. Then oauth_creds.json is pointed at it.
 */
export async function saveOAuthLogin(ctx: Context, tokens: TokenResponse): Promise<Account> {
  registerSecret(tokens.accessToken)
  registerSecret(tokens.refreshToken)
  const subject = tokenSubject(tokens.accessToken)
  const now = Date.now()
  const { result: account } = await ctx.accounts.update((doc) => {
    const existing = subject ? doc.accounts.find((a) => a.kind === 'qwen-oauth' && a.subject === subject) : undefined
    const id = existing?.id ?? oauthAccountId(subject)
    const account: Account = {
      ...existing,
      id,
      label: tokenLabel(tokens.accessToken) ?? existing?.label ?? id,
      kind: 'qwen-oauth',
      provider: 'qwen-oauth',
      baseUrl: apiBaseFromResourceUrl(tokens.resourceUrl),
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken ?? '',
      tokenType: tokens.tokenType,
      expiresAt: now + tokens.expiresIn * 1000,
      ...(tokens.resourceUrl ? { resourceUrl: tokens.resourceUrl } : {}),
      ...(subject ? { subject } : {}),
      status: 'ok',
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    }
    delete account.cooldownUntil
    delete account.lastError
    doc.accounts = [account, ...doc.accounts.filter((a) => a.id !== id)]
    return account
  })
  await ctx.accounts.syncMirror()
  return account
}
