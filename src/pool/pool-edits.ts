import type { Context } from '../context.ts'
import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { effectiveStatus, requireAccount, type Account, type AccountStatus } from '../store/account-model.ts'

/**
 * Moves the account to the front of the pool: it serves first, and the official CLI gets it
 * (`qwenauth use` and the status page's "make active").
 */
export async function makeActive(ctx: Context, idOrLabel: string): Promise<Account> {
  const { id } = requireAccount(await ctx.accounts.read(), idOrLabel)
  const { result: account } = await ctx.accounts.update((doc) => {
    const chosen = requireAccount(doc, id)
    doc.accounts = [chosen, ...doc.accounts.filter((a) => a.id !== id)]
    return chosen
  })
  await ctx.accounts.syncMirror()
  return account
}

export interface ClearedMarks {
  account: Account
  /** The status as it was, cooldowns that had run out counted as `ok`. */
  before: AccountStatus
}

/**
 * Clears a cooldown or a `not-served`/`needs-login` mark so the account serves again at once.
 * The one exception is a Qwen OAuth login whose refresh token the OAuth server refused: that
 * token never works again, so clearing the mark would only have the next request fail and mark
 * it again; only a new login helps. (`qwenauth reset` applies the same rule; this is the
 * status page's copy until both call one function.)
 */
export async function clearMarks(ctx: Context, idOrLabel: string, now = Date.now()): Promise<ClearedMarks> {
  const { id } = requireAccount(await ctx.accounts.read(), idOrLabel)
  const { result } = await ctx.accounts.update((doc): ClearedMarks => {
    const account = requireAccount(doc, id)
    const before = effectiveStatus(account, now)
    if (account.kind === 'qwen-oauth' && account.status === 'needs-login') {
      throw new QwenauthError(
        `${account.label} (${account.id}) needs a new login: the OAuth server refused its refresh token, which clearing the mark cannot undo; run \`qwenauth login\` as ${account.label}`,
        ExitCode.needsLogin,
      )
    }
    if (account.status !== 'ok' || account.cooldownUntil !== undefined || account.lastError) {
      account.status = 'ok'
      delete account.cooldownUntil
      delete account.lastError
      account.updatedAt = now
    }
    return { account, before }
  })
  return result
}
