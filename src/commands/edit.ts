import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { checkLabel } from '../lib/label.ts'
import { logger } from '../lib/logger.ts'
import { describeLimit, parseLimitFlags } from '../pool/limits.ts'
import { requireAccount, type Account } from '../store/account-model.ts'
import { applySettings, type AccountSettings } from '../store/account-settings.ts'
import { withExtras } from './_extras.ts'
import { accountRef } from './_output.ts'
import { accountSettingArgs, accountSettingFlags, jsonArg, printOut } from './_shared.ts'
import { defaultModel } from '../pool/model-map.ts'

export interface EditOptions {
  account: string
  /** `--limit` values as typed: a preset name depends on the account's provider. */
  limits?: string[]
  quotaResetDay?: number | null
  userAgent?: string | null
  label?: string
  model?: string
  aliases?: Record<string, string>
}

/** Changes what an account's owner decides about it: limits, reset day, User-Agent, label, model. */
export async function runEdit(options: EditOptions): Promise<Account> {
  if (options.label !== undefined) checkLabel(options.label)
  const ctx = createContext()
  try {
    const { id, provider, kind } = requireAccount(await ctx.accounts.read(), options.account)
    if (options.userAgent !== undefined && kind === 'qwen-oauth') {
      throw usageError("a Qwen OAuth login sends the official CLI's User-Agent (`serve --user-agent` or QWENAUTH_USER_AGENT sets it); --user-agent is for key accounts")
    }
    const settings: AccountSettings = {
      ...(options.limits?.length ? { limitEdits: parseLimitFlags(options.limits, provider) } : {}),
      ...(options.quotaResetDay !== undefined ? { quotaResetDay: options.quotaResetDay } : {}),
      ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
    }
    const changes = Object.keys(settings).length + [options.label, options.model, options.aliases].filter((v) => v !== undefined).length
    if (changes === 0) throw usageError('nothing to change: give --limit, --reset-day, --user-agent, --label, --model or --alias (see `qwenauth edit --help`)')
    const { result: account } = await ctx.accounts.update((doc) => {
      const a = requireAccount(doc, id)
      applySettings(a, settings)
      if (options.label !== undefined) a.label = options.label
      if (options.model !== undefined) a.model = options.model
      if (options.aliases) a.aliases = { ...a.aliases, ...options.aliases }
      a.updatedAt = Date.now()
      return { ...a }
    })
    logger.success(`${account.label} (${account.id}): ${describeSettings(account)}`)
    return account
  } finally {
    await ctx.close()
  }
}

function describeSettings(account: Account): string {
  const parts = [account.limits?.length ? `limits ${account.limits.map(describeLimit).join(', ')}` : 'no limits']
  if (account.quotaResetDay) parts.push(`monthly quota resets on day ${account.quotaResetDay}`)
  if (account.kind === 'api-key') parts.push(account.userAgent ? `User-Agent "${account.userAgent}"` : "the client's User-Agent")
  if (account.model) parts.push(`model ${account.model}`)
  return parts.join('; ')
}

const details = [
  'Changes what the owner of an account decides beside its credential; what is not given stays as it is.',
  '--limit passes the account over once it reached a number of requests (WINDOW=N) or tokens (WINDOW-tokens=N) in a',
  'window (minute, 5h, day, week, month), until the window frees up; a preset of the plan names its documented',
  'figures (coding-plan: lite, pro; openrouter: free, free-credits); WINDOW=none drops one, none all. --reset-day is',
  "the day of the month the plan's monthly quota resets. --user-agent is sent instead of the client's (key accounts).",
].join('\n')

export default withExtras(
  defineCommand({
    meta: { name: 'edit', description: 'Change an account: limits, the monthly reset day, a fixed User-Agent, label, model' },
    args: {
      account: { type: 'positional', description: 'Account id, unique id prefix, or label', required: true },
      ...accountSettingArgs,
      label: { type: 'string', description: 'Name shown for the account' },
      model: { type: 'string', description: 'Default model of the account', valueHint: 'model' },
      ...jsonArg,
    },
    async run({ args, rawArgs }) {
      const account = await runEdit({
        account: args.account,
        ...accountSettingFlags(args, rawArgs),
        ...(args.label !== undefined ? { label: args.label } : {}),
        ...(args.model !== undefined ? { model: args.model } : {}),
      })
      if (args.json) {
        const settings = { limits: account.limits ?? [], quotaResetDay: account.quotaResetDay ?? null, userAgent: account.userAgent ?? null, model: defaultModel(account) }
        printOut(JSON.stringify({ ...accountRef(account), ...settings }))
      }
    },
  }),
  { details, values: { account: 'account', 'reset-day': ['none'], limit: ['none', 'lite', 'pro', 'free', 'free-credits'] } },
)
