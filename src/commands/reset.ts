import { defineCommand } from 'citty'
import { createContext, type Context } from '../context.ts'
import { ExitCode, QwenauthError, usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { LIMIT_REACHED, withLimits } from '../pool/choose.ts'
import { effectiveStatus, requireAccount, type Account, type AccountStatus } from '../store/account-model.ts'
import { readAllStats } from '../store/stats-backend.ts'
import { withExtras } from './_extras.ts'
import { accountRef, type AccountRef } from './_output.ts'
import { jsonArg, printOut } from './_shared.ts'

export interface ResetOptions {
  account?: string
  all?: boolean
}

export interface ResetEntry extends AccountRef {
  /** The status before and after; `after` is not `ok` only for a login that reset cannot fix. */
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
function resettable(account: Account): boolean {
  return !(account.kind === 'qwen-oauth' && account.status === 'needs-login')
}

/**
 * Clears cooldowns and `not-served`/`needs-login` marks so the accounts serve again at once,
 * instead of after the cooldown or never. `serve` and `exec` pick the change up at their next
 * read of the store (within a second).
 */
export async function runReset(options: ResetOptions): Promise<ResetEntry[]> {
  if (options.all && options.account !== undefined) throw usageError('give an account or --all, not both')
  if (!options.all && options.account === undefined) throw usageError('name the account to reset, or --all (see `qwenauth reset --help`)')
  const ctx = createContext()
  const { accounts } = await ctx.accounts.read()
  if (accounts.length === 0) throw new QwenauthError('no accounts yet: run `qwenauth login` first', ExitCode.needsLogin)
  const ids = options.all ? accounts.map((a) => a.id) : [requireAccount({ version: 1, accounts }, options.account!).id]
  const now = Date.now()
  const { result: entries } = await ctx.accounts.update((doc) =>
    doc.accounts
      .filter((a) => ids.includes(a.id))
      .map((a): ResetEntry => {
        const before = effectiveStatus(a, now)
        if (resettable(a) && (a.status !== 'ok' || a.cooldownUntil !== undefined)) {
          a.status = 'ok'
          delete a.cooldownUntil
          delete a.lastError
          a.updatedAt = now
        }
        return { ...accountRef(a), before, after: effectiveStatus(a, now) }
      }),
  )
  const stuck = entries.find((e) => e.after === 'needs-login')
  // One account asked for and not fixable: that is a failure; with --all, one line among others.
  if (stuck && !options.all) throw loginNeeded(stuck)
  for (const entry of entries) report(entry)
  await reportLimits(ctx, ids, now)
  return entries
}

/** A rest at one of the account's own limits is no mark reset could clear: say what does. */
async function reportLimits(ctx: Context, ids: string[], now: number): Promise<void> {
  const { accounts } = await ctx.accounts.read()
  if (!accounts.some((a) => ids.includes(a.id) && a.limits?.length)) return
  for (const a of withLimits(accounts, await readAllStats(ctx).catch(() => undefined), now)) {
    if (!ids.includes(a.id) || a.lastError?.code !== LIMIT_REACHED) continue
    logger.info(`${a.label} (${a.id}) rests at its own limit of ${a.lastError.message} until the window frees up; \`qwenauth edit ${a.id} --limit …\` raises or drops it`)
  }
}

function report(entry: ResetEntry): void {
  const name = `${entry.label} (${entry.id})`
  if (entry.after === 'needs-login') logger.warn(loginNeeded(entry).message)
  else if (entry.before === 'ok') logger.info(`${name} was usable already`)
  else logger.success(`${name}: ${entry.before} cleared; it serves again`)
}

function loginNeeded(entry: ResetEntry): QwenauthError {
  return new QwenauthError(
    `${entry.label} (${entry.id}) still needs a new login: the OAuth server refused its refresh token, which reset cannot undo; run \`qwenauth login\` as ${entry.label}`,
    ExitCode.needsLogin,
  )
}

const details = [
  'Use it when the reason an account was set aside is gone:',
  '  cooling-down  after a quota or rate-limit answer, once the quota is topped up (else it ends by itself)',
  '  not-served    Qwen refused the account even with a fresh token (the free OAuth tier ended on 2026-04-15);',
  '                only if that changed, e.g. a plan now covers the login',
  '  needs-login   an API key the provider refused (401), once the key works again (re-enabled, paid);',
  '                a wrong key needs `qwenauth login --provider …` with the right one instead',
  'A Qwen OAuth account that needs a new login had its refresh token refused by the OAuth server, and that',
  'never works again: reset leaves it marked and says so; run `qwenauth login` as that user.',
  'If the reason is still there, the next request marks the account again. A rest at one of the account\'s own',
  'limits (`qwenauth edit --limit`) is no mark: it ends as the window frees up, or with a higher limit.',
].join('\n')

export default withExtras(
  defineCommand({
    meta: { name: 'reset', description: "Clear an account's cooldown and its not-served or needs-login mark, so it serves again now" },
    args: {
      account: { type: 'positional', description: 'Account id, unique id prefix, or label', required: false },
      all: { type: 'boolean', description: 'Every account' },
      ...jsonArg,
    },
    async run({ args }) {
      const entries = await runReset({ ...(args.account !== undefined ? { account: args.account } : {}), ...(args.all ? { all: true } : {}) })
      if (args.json) printOut(JSON.stringify({ accounts: entries }))
    },
  }),
  { details, usage: 'qwenauth reset [OPTIONS] <account> | --all', values: { account: 'account' } },
)
