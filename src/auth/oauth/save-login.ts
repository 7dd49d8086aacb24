import type { Context } from '../../context.ts'
import { tokenLabel, tokenSubject } from '../../lib/jwt.ts'
import type { Account } from '../../store/account-model.ts'
import { newOAuthAccount, oauthAccountId } from '../../store/creds-reconcile.ts'
import { applyTokens, type GrantedTokens } from '../../store/tokens.ts'

/**
 * Stores a fresh Qwen OAuth login as the active account. The same login (same subject) updates
 * its account in place instead of adding a twin, and starts afresh: old marks and errors belonged
 * to the old login. Then oauth_creds.json is pointed at it.
 */
export async function saveOAuthLogin(ctx: Context, tokens: GrantedTokens): Promise<Account> {
  const subject = tokenSubject(tokens.accessToken)
  const now = Date.now()
  const { result: account } = await ctx.accounts.update((doc) => {
    const existing = subject ? doc.accounts.find((a) => a.kind === 'qwen-oauth' && a.subject === subject) : undefined
    const id = existing?.id ?? oauthAccountId(subject)
    const label = tokenLabel(tokens.accessToken) ?? existing?.label ?? id
    const account = applyTokens({ ...(existing ?? newOAuthAccount(id, label, now)), label, status: 'ok' }, tokens, now)
    delete account.cooldownUntil
    delete account.lastError
    doc.accounts = [account, ...doc.accounts.filter((a) => a.id !== id)]
    return account
  })
  await ctx.accounts.syncMirror()
  return account
}
