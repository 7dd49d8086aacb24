import { defineCommand } from 'citty'
import { runKeyLogin } from '../auth/api-key/login.ts'
import { runOAuthLogin } from '../auth/oauth/login.ts'
import { PROVIDERS, QWEN_OAUTH_PROVIDER } from '../auth/api-key/providers.ts'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import type { Account } from '../store/account-model.ts'
import { checkStoreWritable } from '../store/writable.ts'
import { withExtras } from './_extras.ts'
import { accountRef } from './_output.ts'
import { accountSettingArgs, accountSettingFlags, jsonArg, printOut } from './_shared.ts'

export interface LoginOptions {
  browser?: boolean
  /** A preset name or base URL: an API-key account. Absent or `qwen-oauth`: the device flow. */
  provider?: string
  label?: string
  model?: string
  apiKeyEnv?: string
  aliases?: Record<string, string>
  /** The provider's Anthropic Messages base URL (a custom provider's; presets know theirs). */
  anthropicBaseUrl?: string
  limits?: string[]
  quotaResetDay?: number | null
  userAgent?: string | null
  verify?: boolean
}

export async function runLogin(options: LoginOptions): Promise<Account> {
  const ctx = createContext()
  await checkStoreWritable(ctx)
  if (options.provider !== undefined && options.provider !== QWEN_OAUTH_PROVIDER) {
    const saved = await runKeyLogin(ctx, {
      provider: options.provider,
      verify: options.verify !== false,
      signal: interruptSignal,
      ...(options.label !== undefined ? { label: options.label } : {}),
      ...(options.model !== undefined ? { model: options.model } : {}),
      ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
      ...(options.aliases ? { aliases: options.aliases } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.quotaResetDay !== undefined ? { quotaResetDay: options.quotaResetDay } : {}),
      ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
      ...(options.anthropicBaseUrl !== undefined ? { anthropicBaseUrl: options.anthropicBaseUrl } : {}),
    })
    return saved.account
  }
  const keyOnly = [options.label, options.model, options.apiKeyEnv, options.aliases, options.limits, options.quotaResetDay, options.userAgent, options.anthropicBaseUrl].some((v) => v !== undefined)
  if (keyOnly) throw usageError('--label, --model, --api-key-env, --alias, --limit, --reset-day, --user-agent and --anthropic-base-url are for API-key accounts: add --provider <name|url> (`qwenauth edit` sets limits on any account)')
  const browser = options.browser !== false && process.env.QWENAUTH_NO_BROWSER !== '1'
  return runOAuthLogin(ctx, { browser, probe: options.verify !== false, signal: interruptSignal })
}

const KEY_FLAGS = ['--api-key', '--apikey', '--key', '--token', '--openai-api-key', '--secret']
const KEY_ADVICE = 'pipe it on stdin (printf %s "$KEY" | qwenauth login --provider <name>), name a variable that holds it (--api-key-env NAME), or type it at the hidden prompt'

/**
 * A key on the command line shows in `ps` and shell history: refuse it before anything else
 * runs, and before the generic check could call `--api-key` a typo of `--api-key-env`.
 */
function refuseKeyFlags(rawArgs: readonly string[]): void {
  const flags = rawArgs.slice(0, rawArgs.includes('--') ? rawArgs.indexOf('--') : undefined)
  if (flags.some((a) => KEY_FLAGS.includes(a.split('=')[0] ?? ''))) {
    throw usageError(`qwenauth never takes an API key as an argument (others can read it in \`ps\`): ${KEY_ADVICE}`)
  }
}

const details = [
  'Without --provider: the Qwen OAuth device flow. The URL and the code go to stderr (with a QR code on a terminal):',
  'open the URL on any device, a phone included, and approve. Ctrl-C cancels and writes nothing.',
  'With --provider: an API-key account. The key comes from stdin, from the variable --api-key-env names, or from a',
  'hidden prompt; never from an argument (anyone can read those in `ps`). It is checked with GET /models before saving,',
  'which also picks the default model from what the provider lists (the Coding Plan: its newest qwenX-plus).',
  '--limit, --reset-day and --user-agent set what `qwenauth edit` changes later (see the README, "Plans and quotas").',
  'Qwen ended the free OAuth tier on 2026-04-15: logins still succeed, but only API-key plans are served.',
  'Exit codes: 2 usage, 4 server unreachable, 5 refused (on the approval page, or the key), 6 code expired,',
  '7 code unknown to the server, 8 code ran out while waiting, 130 cancelled.',
].join('\n')

export default withExtras(defineCommand({
  meta: { name: 'login', description: 'Log in to Qwen with the OAuth device flow, or add an API-key account with --provider' },
  args: {
    provider: { type: 'string', description: 'Add an API-key account: coding-plan, coding-plan-intl, token-plan, dashscope, dashscope-intl, modelscope, openrouter, or an https:// base URL', valueHint: 'name|url' },
    label: { type: 'string', description: 'Name shown for the key account (default: the provider)' },
    model: { type: 'string', description: "Default model of the key account (default: picked from what the provider lists, else the preset's)" },
    'api-key-env': { type: 'string', description: 'Read the key from this environment variable (else stdin, else a hidden prompt)', valueHint: 'NAME' },
    ...accountSettingArgs,
    'anthropic-base-url': { type: 'string', description: "The provider's Anthropic Messages API base URL (without /v1), so Claude Code's requests reach it as they are", valueHint: 'url' },
    verify: { type: 'boolean', default: true, description: 'Check the key (or that Qwen serves the login) with GET /models before saving', negativeDescription: 'Save without that request' },
    browser: { type: 'boolean', default: true, description: 'Open a browser where one can be opened', negativeDescription: 'Never open a browser; show the URL, code and QR code only' },
    ...jsonArg,
  },
  async run({ args, rawArgs }) {
    const account = await runLogin({
      browser: args.browser,
      verify: args.verify,
      ...(args.provider !== undefined ? { provider: args.provider } : {}),
      ...(args.label !== undefined ? { label: args.label } : {}),
      ...(args.model !== undefined ? { model: args.model } : {}),
      ...(args['api-key-env'] !== undefined ? { apiKeyEnv: args['api-key-env'] } : {}),
      ...accountSettingFlags(args, rawArgs),
      ...(args['anthropic-base-url'] !== undefined ? { anthropicBaseUrl: args['anthropic-base-url'] } : {}),
    })
    if (args.json) printOut(JSON.stringify(accountRef(account)))
  },
}), {
  details,
  env: ['QWENAUTH_OAUTH_URL', 'QWENAUTH_NO_BROWSER', 'SSH_*, CI, DISPLAY'],
  values: { provider: PROVIDERS.map((p) => p.name) },
  checkFirst: refuseKeyFlags,
  // Never repeated: the stray word may well be the key itself.
  unexpectedWord: () => `login takes no positional arguments; to add an API key, ${KEY_ADVICE}`,
})
