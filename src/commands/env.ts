import { defineCommand } from 'citty'
import { durationFlag, parseDuration } from '../lib/duration.ts'
import { REFRESH_ENV } from './_environment.ts'
import { withExtras } from './_extras.ts'
import { createContext } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { credentialEnv, directCredentials } from '../exec/child-env.ts'
import { qwenSettingsEnv } from '../exec/qwen-code-settings.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import { defaultModel } from '../pool/model-map.ts'
import { AccountPool } from '../pool/pool.ts'
import { qwenHome } from '../lib/paths.ts'
import { usageError } from '../lib/errors.ts'
import { formatEnv, isShellFormat, SHELL_FORMATS, type ShellFormat } from '../lib/shell-quote.ts'
import { accountArg, printOut } from './_shared.ts'

export interface EnvOptions {
  shell?: ShellFormat
  account?: string
  model?: string
  /** Refresh first when less than this remains (default 10 min). */
  refreshMarginMs?: number
}

/**
 * The variables `exec` sets, as assignments for a shell or a file. They hold the account's real
 * token and base URL: a proxy would be gone once this command ends, so these must stand alone.
 */
export async function runEnv(options: EnvOptions = {}): Promise<string> {
  const ctx = createContext()
  try {
    const pool = new AccountPool(ctx)
    const account = await pool.handout(options.account)
    // The real provider is talked to directly: its own name for the model, not the neutral one.
    const model = options.model || defaultModel(account)
    const creds = await directCredentials(pool, account, model, { marginMs: options.refreshMarginMs ?? DEFAULTS.directRefreshMarginMs, signal: interruptSignal })
    // The qwen CLI's own directory, on this machine, whatever store the accounts are in.
    const vars = { ...credentialEnv(creds), ...(await qwenSettingsEnv(qwenHome(), model)) }
    return formatEnv(vars, options.shell ?? 'bash')
  } finally {
    await ctx.close()
  }
}

const details = [
  'Print OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL and QWEN_MODEL (and the qwen CLI settings layer `exec` uses) for:',
  '  bash/zsh: eval "$(qwenauth env)"    fish: qwenauth env --shell fish | source',
  '  PowerShell: qwenauth env --shell powershell | Invoke-Expression    files: --shell dotenv | json',
  "The token is the account's real one, refreshed first when less than --refresh-margin remains; it is not renewed",
  'afterwards (Qwen OAuth tokens last about 6 h): run it again, or use `qwenauth exec`, which keeps tokens fresh.',
  '',
  "Claude Code: where the account's provider serves Anthropic's API itself (coding-plan, coding-plan-intl, dashscope,",
  'dashscope-intl, or a custom account added with --anthropic-base-url), env also prints ANTHROPIC_BASE_URL,',
  'ANTHROPIC_AUTH_TOKEN, ANTHROPIC_MODEL, ANTHROPIC_DEFAULT_OPUS_MODEL and ANTHROPIC_DEFAULT_SONNET_MODEL. Other accounts',
  '(Qwen OAuth, OpenRouter, ModelScope, other OpenAI-compatible URLs) speak only OpenAI\'s API: Claude Code needs',
  '`qwenauth exec -- claude` or `qwenauth serve`, which translate.',
].join('\n')

export default withExtras(defineCommand({
  meta: {
    name: 'env',
    description: 'Print OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL and QWEN_MODEL (and ANTHROPIC_* where the provider speaks it) for eval, fish, PowerShell, dotenv or JSON',
  },
  args: {
    shell: { type: 'string', description: 'Output format', valueHint: SHELL_FORMATS.join('|'), default: 'bash' },
    ...accountArg,
    model: { type: 'string', alias: 'm', description: "Model for OPENAI_MODEL, QWEN_MODEL and ANTHROPIC_MODEL (default: the account's)", valueHint: 'model' },
    'refresh-margin': { type: 'string', description: 'Refresh the token first when less than this remains', valueHint: 'duration', default: durationFlag(DEFAULTS.directRefreshMarginMs) },
  },
  async run({ args }) {
    const shell = args.shell ?? 'bash'
    if (!isShellFormat(shell)) throw usageError(`--shell takes one of ${SHELL_FORMATS.join(', ')}, not "${shell}"`)
    printOut(
      await runEnv({
        shell,
        ...(args.account !== undefined ? { account: args.account } : {}),
        ...(args.model ? { model: args.model } : {}),
        ...(args['refresh-margin'] ? { refreshMarginMs: parseDuration(args['refresh-margin'], '--refresh-margin') } : {}),
      }),
    )
  },
}), { details, env: [...REFRESH_ENV, 'QWEN_CODE_SYSTEM_SETTINGS_PATH'], values: { shell: SHELL_FORMATS, account: 'account' } })
