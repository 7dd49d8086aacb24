import { defineCommand } from 'citty'
import { durationFlag, parseDuration } from '../lib/duration.ts'
import { PROXY_ENV, REFRESH_ENV } from './_environment.ts'
import { withExtras } from './_extras.ts'
import { createContext } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { splitCommand } from '../exec/argv.ts'
import { credentialEnv, directCredentials, loopbackNoProxy, type ClientCredentials } from '../exec/child-env.ts'
import { claudeLaunch } from '../exec/claude.ts'
import { codexArgsStart, codexLaunch } from '../exec/codex.ts'
import { opencodeEnv } from '../exec/opencode.ts'
import { startExecProxy, type ExecProxy } from '../exec/exec-proxy.ts'
import type { Launch } from '../exec/program-args.ts'
import { qwenSettingsEnv } from '../exec/qwen-code-settings.ts'
import { runChild } from '../exec/run-child.ts'
import { usageError } from '../lib/errors.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import { logger } from '../lib/logger.ts'
import { qwenHome } from '../lib/paths.ts'
import { clientModel, defaultModel, parseAliasFlags } from '../pool/model-map.ts'
import { AccountPool } from '../pool/pool.ts'
import { accountArg, modelMapArg, repeatedValues } from './_shared.ts'

export interface ExecOptions {
  /** The program and its arguments, exactly as the child gets them. */
  command: string[]
  account?: string
  model?: string
  /** Hand the real token to the child instead of a private proxy. */
  direct?: boolean
  /** --direct refreshes first when less than this remains (default 10 min). */
  refreshMarginMs?: number
  /** `--model-map`: requested model → model sent, through the proxy. */
  modelMap?: Record<string, string>
  /** The proxy keeps each conversation on the account that served it before. */
  affinity?: boolean
}

/** Runs the program with OPENAI_* set and resolves with the exit code qwenauth should end with. */
export async function runExec(options: ExecOptions): Promise<number> {
  const [command, ...args] = options.command
  if (!command) throw usageError('missing command after `--`')
  const ctx = createContext()
  let proxy: Promise<ExecProxy> | undefined
  let launch: Launch | undefined
  try {
    const pool = new AccountPool(ctx)
    // Before the program starts: when no account can serve, say why instead of starting a
    // program whose every request would fail (an agent retrying for minutes).
    // --direct hands a named account out as asked; the proxy fails over, so it needs any that serves.
    const account = await pool.handout(options.account, { proxied: !options.direct })
    const named = options.account === undefined ? undefined : await pool.named(options.account)
    let credentials: Promise<ClientCredentials>
    let model: string
    if (options.direct) {
      // The child talks to the provider itself: the provider's own name for the model.
      model = options.model || defaultModel(account)
      credentials = directCredentials(pool, account, model, { marginMs: options.refreshMarginMs ?? DEFAULTS.directRefreshMarginMs, signal: interruptSignal })
    } else {
      // The neutral name: whichever account the proxy fails over to maps it to its own.
      model = options.model || clientModel(account)
      // Started side by side with the rest: every millisecond here delays the user's program.
      proxy = startExecProxy(ctx, { model, ...(named ? { preferredAccountId: named.id } : {}), ...(options.affinity ? { affinity: true } : {}), ...(options.modelMap ? { modelMap: options.modelMap } : {}) })
      credentials = proxy.then((started) => started.credentials)
    }
    const [creds, qwenVars] = await Promise.all([credentials, qwenSettingsEnv(qwenHome(), model)])
    // Codex reads no OPENAI_BASE_URL: it gets a provider for the proxy on its command line.
    // Claude Code would take the env block of its own settings over ours: it gets flag settings.
    if (options.direct) launch = { args, env: {} }
    else if (codexArgsStart(command, args) !== undefined) launch = await codexLaunch(command, args, creds, qwenHome())
    else launch = await claudeLaunch(command, args, creds, qwenHome())
    if (options.direct && codexArgsStart(command, args) !== undefined) {
      logger.warn('codex speaks the Responses API and ignores OPENAI_BASE_URL: with --direct it reaches no Qwen account; run `qwenauth exec -- codex` without --direct')
    }
    // opencode reads no OPENAI_BASE_URL either: it gets a provider on OPENAI_* in its config variable.
    // The private proxy is on loopback: an HTTP proxy the environment names must not be asked for it.
    const noProxy = options.direct ? {} : loopbackNoProxy(process.env)
    const env: NodeJS.ProcessEnv = { ...process.env, ...noProxy, ...credentialEnv(creds), ...qwenVars, ...opencodeEnv(command, args, creds.model, process.env), ...launch.env }
    // Claude Code would send (and prefer) a key of the user's own beside the one handed over.
    if (creds.anthropicBaseUrl) delete env.ANTHROPIC_API_KEY
    // A Ctrl-C or SIGTERM while all this was prepared: the program is not started (it would be
    // left running when qwenauth exits), and the finally below removes what was written for it.
    interruptSignal.throwIfAborted()
    return await runChild(command, launch.args, env)
  } finally {
    await launch?.cleanup?.().catch((error: Error) => logger.warn(`could not remove a file written for this run: ${error.message}`))
    await proxy?.then((started) => started.close(), () => {})
    await ctx.close()
  }
}

const args = {
  ...accountArg,
  model: { type: 'string', alias: 'm', description: "Model for OPENAI_MODEL, QWEN_MODEL and ANTHROPIC_MODEL (default: the account's)", valueHint: 'model' },
  direct: { type: 'boolean', description: "Give the program the account's real token and base URL instead of a private proxy (see below)" },
  affinity: { type: 'boolean', description: "Keep each conversation on the account that served it before, so the provider's prompt cache stays warm" },
  'refresh-margin': { type: 'string', description: 'With --direct: refresh the token first when less than this remains', valueHint: 'duration', default: durationFlag(DEFAULTS.directRefreshMarginMs) },
  ...modelMapArg,
  command: { type: 'positional', required: false, description: 'After `--`: the program and its arguments, passed on exactly as given' },
} as const

const details = [
  'Run a program with OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL and QWEN_MODEL set; the rest of the environment is kept.',
  '',
  'Claude Code: `qwenauth exec -- claude` works as it is. exec also sets ANTHROPIC_BASE_URL (the private proxy, which speaks',
  "Anthropic's Messages API on every account), ANTHROPIC_AUTH_TOKEN (the one-time key), ANTHROPIC_MODEL and",
  'ANTHROPIC_DEFAULT_OPUS_MODEL/ANTHROPIC_DEFAULT_SONNET_MODEL (the model above), and leaves ANTHROPIC_API_KEY out of its',
  'environment. Since Claude Code applies the env block of its settings files over the environment, exec also passes it',
  '--settings with a private file (removed when it exits) that sets the same variables, empties ANTHROPIC_API_KEY,',
  'apiKeyHelper and the provider switches (CLAUDE_CODE_USE_BEDROCK…), and outranks your user and project settings.',
  'claude-* names (haiku, say) go to the account\'s default model unless --model-map names another:',
  '  qwenauth exec --model-map \'claude-*haiku*=qwen3-coder-flash\' -- claude',
  'With --direct the Anthropic variables are set only where the provider serves that API itself (Coding Plan, DashScope).',
  '',
  'By default the program talks to a private proxy inside qwenauth on 127.0.0.1 with a one-time key: it never sees the real',
  'token, and for as long as it runs tokens are refreshed, Qwen headers added and failing accounts replaced by the next',
  '(--account names the one tried first).',
  "--direct puts the account's real token and base URL in the environment instead (refreshed first when less than",
  '--refresh-margin remains). No proxy in between, but the program holds the real token, and when that token expires',
  '(about 6 h for Qwen OAuth) or the account runs out of quota nothing renews it or fails over, and no Qwen headers are added.',
  '',
  'The official CLI: qwen reads its auth type and model from its settings files before the environment, so a saved',
  '"qwen-oauth" would win and be refused. exec therefore also sets QWEN_CODE_SYSTEM_SETTINGS_PATH to a settings layer that',
  'selects "openai" and the model above and hides providers of its own, over your settings (left untouched on disk);',
  "qwen's own --auth-type and -m still win.",
  'So `qwenauth exec -- qwen -p "hi"` works whatever ~/.qwen/settings.json says, also for qwen started by a script.',
  '',
  'Codex (codex, or npx @openai/codex) ignores OPENAI_BASE_URL; exec gives it a provider for the proxy with -c overrides',
  "before your arguments and a model catalog file, leaving ~/.codex (config, login, history) as it is.",
  '',
  'opencode ignores OPENAI_BASE_URL too; exec sets OPENCODE_CONFIG_CONTENT (unless you set it) to a provider "qwenauth" on',
  "OPENAI_BASE_URL and OPENAI_API_KEY and model qwenauth/<model>, merged over your opencode config; opencode's -m still wins.",
  '',
  'stdin, stdout and stderr are the program\'s; its exit code is qwenauth\'s (128+n if signal n killed it; 127: not found);',
  'SIGTERM, SIGHUP and SIGINT are passed on (at a terminal, Ctrl-C already reaches the program, and only once).',
].join('\n')

export default withExtras(defineCommand({
  meta: {
    name: 'exec',
    description: 'Run a program (any OpenAI client, Claude Code) with OPENAI_* and ANTHROPIC_* set; a private proxy keeps them working',
  },
  args,
  async run({ args: parsed, rawArgs }) {
    const command = splitCommand(rawArgs)
    const modelMap = repeatedValues(rawArgs, 'model-map', 'claude-*haiku*=qwen3-coder-flash')
    process.exitCode = await runExec({
      command,
      ...(parsed.account !== undefined ? { account: parsed.account } : {}),
      ...(parsed.model ? { model: parsed.model } : {}),
      direct: Boolean(parsed.direct),
      ...(parsed.affinity ? { affinity: true } : {}),
      ...(parsed['refresh-margin'] ? { refreshMarginMs: parseDuration(parsed['refresh-margin'], '--refresh-margin') } : {}),
      ...(modelMap.length > 0 ? { modelMap: parseAliasFlags(modelMap, '--model-map') } : {}),
    })
  },
}), {
  details,
  usage: 'qwenauth exec [OPTIONS] -- <command> [args...]',
  env: [...REFRESH_ENV, ...PROXY_ENV, 'QWEN_CODE_SYSTEM_SETTINGS_PATH', 'OPENCODE_CONFIG_CONTENT'],
  values: { account: 'account' },
  passThrough: true,
  unexpectedWord: (word) => `unexpected argument "${word}": put the program after \`--\`, as in qwenauth exec -- ${word}`,
})
