import type { Context } from '../../context.ts'
import { tokenLabel, tokenSubject } from '../../lib/jwt.ts'
import { effectiveStatus, type Account, type AccountError, type AccountStatus } from '../../store/account-model.ts'
import { newOAuthAccount, oauthAccountId } from '../../store/creds-reconcile.ts'
import { applyTokens, type GrantedTokens } from '../../store/tokens.ts'

/** The statuses of an account that cannot serve until its owner acts (not a rest that ends by itself). */
const OWNER_MUST_ACT: readonly AccountStatus[] = ['not-served', 'needs-login']

/**
 * Stores a fresh Qwen OAuth login. The same login (same subject) updates its account in place
 * instead of adding a twin, and starts afresh: old marks and errors belonged to the old login (a
 * label its owner edited stays).
 * A served login becomes the active account; one the API refuses is stored `not-served`, behind
 * every account that can serve, so it never takes their place. Then oauth_creds.json is pointed
 * at the first Qwen OAuth login.
 */
export async function saveOAuthLogin(ctx: Context, tokens: GrantedTokens, notServed?: AccountError): Promise<Account> {
  const subject = tokenSubject(tokens.accessToken)
  const now = Date.now()
  const { result: account } = await ctx.accounts.update((doc) => {
    const existing = subject ? doc.accounts.find((a) => a.kind === 'qwen-oauth' && a.subject === subject) : undefined
    const id = existing?.id ?? oauthAccountId(subject)
    // A label its owner edited stays; else the login is named after its token, as when it was new.
    const label = existing && labelEdited(existing) ? existing.label : (tokenLabel(tokens.accessToken) ?? existing?.label ?? id)
    const account = applyTokens({ ...(existing ?? newOAuthAccount(id, label, now)), label, status: notServed ? 'not-served' : 'ok' }, tokens, now)
    delete account.cooldownUntil
    delete account.lastError
    if (notServed) account.lastError = notServed
    const others = doc.accounts.filter((a) => a.id !== id)
    // Behind every account that can serve, resting ones too (a cooldown, a limit): in front of
    // the first that cannot until its owner acts.
    const firstUnusable = others.findIndex((a) => OWNER_MUST_ACT.includes(effectiveStatus(a, now)))
    const at = notServed ? (firstUnusable === -1 ? others.length : firstUnusable) : 0
    doc.accounts = [...others.slice(0, at), account, ...others.slice(at)]
    return account
  })
  await ctx.accounts.syncMirror()
  return account
}

/** True when the account's label is not the one its login gave it (its token's, else its id): `qwenauth edit --label` set it. */
function labelEdited(account: Account): boolean {
  return account.label !== (tokenLabel(account.accessToken) ?? account.id)
}
