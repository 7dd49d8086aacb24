import { defineCommand } from 'citty'
import { createContext, type Context } from '../context.ts'
import { ExitCode, QwenauthError, usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { LIMIT_REACHED, withLimits } from '../pool/choose.ts'
import { clearedMessage, clearMarks, stillNeedsLogin, type ClearedMarks } from '../pool/pool-edits.ts'
import { requireAccount, type AccountStatus } from '../store/account-model.ts'
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
 * Clears cooldowns and `not-served`/`needs-login` marks so the accounts serve again at once,
 * instead of after the cooldown or never (pool-edits.ts says which marks can be cleared).
 */
export async function runReset(options: ResetOptions): Promise<ResetEntry[]> {
  if (options.all && options.account !== undefined) throw usageError('give an account or --all, not both')
  if (!options.all && options.account === undefined) throw usageError('name the account to reset, or --all (see `qwenauth reset --help`)')
  const ctx = createContext()
  const { accounts } = await ctx.accounts.read()
  if (accounts.length === 0) throw new QwenauthError('no accounts yet: run `qwenauth login` first', ExitCode.needsLogin)
  const ids = options.all ? accounts.map((a) => a.id) : [requireAccount({ version: 1, accounts }, options.account!).id]
  const cleared = await clearMarks(ctx, ids)
  const stuck = cleared.find((c) => c.after === 'needs-login')
  // One account asked for and not fixable: that is a failure; with --all, one line among others.
  if (stuck && !options.all) throw stillNeedsLogin(stuck.account)
  for (const entry of cleared) report(entry)
  await reportLimits(ctx, ids, Date.now())
  return cleared.map(({ account, before, after }) => ({ ...accountRef(account), before, after }))
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

function report(entry: ClearedMarks): void {
  const message = clearedMessage(entry)
  if (entry.after === 'needs-login') logger.warn(message)
  else if (entry.before === 'ok') logger.info(message)
  else logger.success(message)
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
