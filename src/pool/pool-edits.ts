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
  /** The status before and after; `after` is not `ok` only for a login that clearing cannot fix. */
  before: AccountStatus
  after: AccountStatus
}

/**
 * A Qwen OAuth account is marked `needs-login` only when the OAuth server refused its refresh
 * token, and a refused refresh token never works again: clearing the mark would only have the
 * next `token` or request try it, fail, and mark it again. Only a new login helps. Every other
 * mark is a judgement the user may have made obsolete (quota topped up, key re-enabled, plan
 * bought), and the next request checks it again anyway.
 */
function clearable(account: Account): boolean {
  return !(account.kind === 'qwen-oauth' && account.status === 'needs-login')
}

/**
 * Clears cooldowns and `not-served`/`needs-login` marks so the accounts serve again at once,
 * instead of after the cooldown or never (`qwenauth reset` and the status page). `serve` and
 * `exec` pick the change up at their next read of the store (within a second).
 */
export async function clearMarks(ctx: Context, ids: readonly string[], now = Date.now()): Promise<ClearedMarks[]> {
  const { result } = await ctx.accounts.update((doc) =>
    doc.accounts
      .filter((a) => ids.includes(a.id))
      .map((account): ClearedMarks => {
        const before = effectiveStatus(account, now)
        if (clearable(account) && (account.status !== 'ok' || account.cooldownUntil !== undefined)) {
          account.status = 'ok'
          delete account.cooldownUntil
          delete account.lastError
          account.updatedAt = now
        }
        return { account, before, after: effectiveStatus(account, now) }
      }),
  )
  return result
}

/** What clearing did to one account, in words. */
export function clearedMessage({ account, before, after }: ClearedMarks): string {
  if (after === 'needs-login') return stillNeedsLogin(account).message
  const name = `${account.label} (${account.id})`
  return before === 'ok' ? `${name} was usable already` : `${name}: ${before} cleared; it serves again`
}

export function stillNeedsLogin(account: Pick<Account, 'id' | 'label'>): QwenauthError {
  return new QwenauthError(
    `${account.label} (${account.id}) still needs a new login: the OAuth server refused its refresh token, which reset cannot undo; run \`qwenauth login\` as ${account.label}`,
    ExitCode.needsLogin,
  )
}
