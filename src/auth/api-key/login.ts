import type { Context } from '../../context.ts'
import { logger } from '../../lib/logger.ts'
import { secretHint } from '../../lib/redact.ts'
import { readApiKey } from './key-input.ts'
import { normaliseBaseUrl, QWEN_OAUTH_DEFAULT_MODEL, resolveProvider, type ResolvedProvider } from './providers.ts'
import { saveKeyAccount, type SavedKeyAccount } from './save-key-account.ts'
import { verifyApiKey } from './verify-key.ts'

export interface KeyLoginOptions {
  /** `--provider`: a preset name or a base URL. */
  provider: string
  label?: string
  model?: string
  apiKeyEnv?: string
  /** `--alias` entries, already parsed. */
  aliases?: Record<string, string>
  /** `--anthropic-base-url`: where the provider serves the Anthropic Messages API. */
  anthropicBaseUrl?: string
  /** False with `--no-verify`: no request is made. */
  verify: boolean
  signal?: AbortSignal
}

/** Adds (or updates) an API-key account: resolve the provider, read the key, check it, save it. */
export async function runKeyLogin(ctx: Context, options: KeyLoginOptions): Promise<SavedKeyAccount> {
  const target = resolveProvider(options.provider)
  // Checked before the key is asked for: a typo here must not cost a prompt.
  const anthropicBaseUrl = options.anthropicBaseUrl === undefined ? undefined : normaliseBaseUrl(options.anthropicBaseUrl).replace(/\/v1$/, '')
  const apiKey = await readApiKey({
    providerTitle: target.preset?.title ?? new URL(target.baseUrl).host,
    providerArg: options.provider,
    ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
    ...(target.preset?.keyEnv ? { suggestedEnv: target.preset.keyEnv } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })
  const saved = await checkAndSaveKey(ctx, target, apiKey, { ...options, ...(anthropicBaseUrl ? { anthropicBaseUrl } : {}) })
  logger.success(successLine(saved, options.verify))
  return saved
}

/**
 * The part of adding a key account after the key is in hand (`login --provider` and the status
 * page): check it with the provider, choose its model, store it. Nothing is saved unless the
 * provider accepts the key (or the caller chose not to ask).
 */
export async function checkAndSaveKey(
  ctx: Context,
  target: ResolvedProvider,
  apiKey: string,
  options: Pick<KeyLoginOptions, 'label' | 'model' | 'aliases' | 'anthropicBaseUrl' | 'verify' | 'signal'>,
): Promise<SavedKeyAccount> {
  const listed = options.verify ? (await verifyApiKey(target.baseUrl, apiKey, options.signal ? { signal: options.signal } : {})).models : []
  const model = chooseModel(target, options.model, listed)
  return saveKeyAccount(ctx, {
    provider: target.provider,
    baseUrl: target.baseUrl,
    apiKey,
    label: options.label ?? (target.preset ? target.provider : new URL(target.baseUrl).host),
    ...(model ? { model } : {}),
    aliases: { ...customAliases(target, model, listed), ...options.aliases },
    ...(options.anthropicBaseUrl ? { anthropicBaseUrl: options.anthropicBaseUrl } : {}),
  })
}

/**
 * A preset's default model lives in the table (so a newer table reaches old accounts); only an
 * explicit `--model` is stored. A custom provider has no table: `--model`, else the first model
 * it lists, else Qwen's own `coder-model`.
 */
function chooseModel(target: ResolvedProvider, requested: string | undefined, listed: string[]): string | undefined {
  if (requested) return requested
  if (target.preset) return undefined
  return listed[0] ?? QWEN_OAUTH_DEFAULT_MODEL
}

/** Clients set up for Qwen OAuth ask for `coder-model`; a custom provider that lacks it gets its default model. */
function customAliases(target: ResolvedProvider, model: string | undefined, listed: string[]): Record<string, string> {
  if (target.preset || !model || listed.length === 0 || listed.includes(QWEN_OAUTH_DEFAULT_MODEL)) return {}
  return { [QWEN_OAUTH_DEFAULT_MODEL]: model }
}

function successLine({ account, created, position }: SavedKeyAccount, verified: boolean): string {
  const details = [`account ${account.id}`, account.label === account.provider ? '' : account.provider, `key ${secretHint(account.apiKey)}`, verified ? '' : 'not checked']
  const what = `${account.label} (${details.filter(Boolean).join(', ')})`
  const verb = created ? 'Added' : 'Updated'
  if (position === 1) return `${verb} ${what}: it is the active account`
  return `${verb} ${what} as #${position} in the pool: it serves when the accounts before it cannot. Make it active with \`qwenauth use ${account.id}\``
}
