import type { Context } from '../../context.ts'
import { checkLabel } from '../../lib/label.ts'
import { logger } from '../../lib/logger.ts'
import { secretHint } from '../../lib/redact.ts'
import { readApiKey } from './key-input.ts'
import { parseLimitFlags } from '../../pool/limits.ts'
import type { AccountSettings } from '../../store/account-settings.ts'
import { normaliseBaseUrl, pickDefaultModel, QWEN_OAUTH_DEFAULT_MODEL, resolveProvider, type ResolvedProvider } from './providers.ts'
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
  /** `--limit` values as typed (a preset name needs the provider to be known). */
  limits?: string[]
  /** `--reset-day`: the day, or null for none. */
  quotaResetDay?: number | null
  /** `--user-agent`: fixed for this account, or null to forward the client's. */
  userAgent?: string | null
  /** False with `--no-verify`: no request is made. */
  verify: boolean
  signal?: AbortSignal
}

/** Adds (or updates) an API-key account: resolve the provider, read the key, check it, save it. */
export async function runKeyLogin(ctx: Context, options: KeyLoginOptions): Promise<SavedKeyAccount> {
  const target = resolveProvider(options.provider)
  // Bad flags are refused before anyone is asked for a key.
  const settings: AccountSettings = {
    ...(options.limits?.length ? { limitEdits: parseLimitFlags(options.limits, target.provider) } : {}),
    ...(options.quotaResetDay !== undefined ? { quotaResetDay: options.quotaResetDay } : {}),
    ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
  }
  // Checked before the key is asked for: a typo here must not cost a prompt.
  if (options.label !== undefined) checkLabel(options.label)
  const anthropicBaseUrl = options.anthropicBaseUrl === undefined ? undefined : normaliseBaseUrl(options.anthropicBaseUrl).replace(/\/v1$/, '')
  const apiKey = await readApiKey({
    providerTitle: target.preset?.title ?? new URL(target.baseUrl).host,
    providerArg: options.provider,
    ...(options.apiKeyEnv !== undefined ? { apiKeyEnv: options.apiKeyEnv } : {}),
    ...(target.preset?.keyEnv ? { suggestedEnv: target.preset.keyEnv } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })
  const saved = await checkAndSaveKey(ctx, target, apiKey, { ...options, ...(anthropicBaseUrl ? { anthropicBaseUrl } : {}) }, settings)
  logger.success(successLine(saved, options.verify))
  if (target.preset?.quotaNote && !saved.account.limits) logger.info(`Quotas: ${target.preset.quotaNote}`)
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
  settings: AccountSettings = {},
): Promise<SavedKeyAccount> {
  const listed = options.verify ? (await verifyApiKey(target.baseUrl, apiKey, options.signal ? { signal: options.signal } : {})).models : []
  const { model, aliases } = chooseModel(target, options.model, listed)
  return saveKeyAccount(ctx, {
    provider: target.provider,
    baseUrl: target.baseUrl,
    apiKey,
    // Only when given: the same key stored again keeps the label its account has.
    ...(options.label !== undefined ? { label: options.label } : {}),
    ...(model ? { model } : {}),
    aliases: { ...aliases, ...options.aliases },
    ...(options.anthropicBaseUrl ? { anthropicBaseUrl: options.anthropicBaseUrl } : {}),
    ...settings,
  })
}

/**
 * The default model. `--model` wins. A plan whose models change (the Coding Plan, the Token
 * Plan) gets the newest the key lists, stored with the account, and `coder-model` (what clients
 * set up for Qwen OAuth ask for) goes to its default, picked or named. Other presets keep the table's model (so a
 * newer table reaches old accounts). A custom provider has no table: the first model it lists,
 * else Qwen's own `coder-model`, which it then maps to that model when it lacks it.
 */
function chooseModel(target: ResolvedProvider, requested: string | undefined, listed: string[]): { model?: string; aliases?: Record<string, string> } {
  const { preset } = target
  if (requested) return { model: requested, ...(preset?.newestModel ? { aliases: { [QWEN_OAUTH_DEFAULT_MODEL]: requested } } : {}) }
  if (!preset) {
    const model = listed[0] ?? QWEN_OAUTH_DEFAULT_MODEL
    const lacksCoder = listed.length > 0 && !listed.includes(QWEN_OAUTH_DEFAULT_MODEL)
    return { model, ...(lacksCoder ? { aliases: { [QWEN_OAUTH_DEFAULT_MODEL]: model } } : {}) }
  }
  const pick = pickDefaultModel(preset, listed)
  if (!pick.listed) logger.warn(`${preset.title} does not list ${pick.model}, the default model of its preset: name one it lists with \`--model\` (it lists ${listed.slice(0, 8).join(', ')}${listed.length > 8 ? ', …' : ''})`)
  if (!preset.newestModel || listed.length === 0) return {}
  return { model: pick.model, aliases: { [QWEN_OAUTH_DEFAULT_MODEL]: pick.model } }
}

function successLine({ account, created, position }: SavedKeyAccount, verified: boolean): string {
  const details = [`account ${account.id}`, account.label === account.provider ? '' : account.provider, `key ${secretHint(account.apiKey)}`, verified ? '' : 'not checked']
  const what = `${account.label} (${details.filter(Boolean).join(', ')})`
  const verb = created ? 'Added' : 'Updated'
  if (position === 1) return `${verb} ${what}: it is the active account`
  return `${verb} ${what} as #${position} in the pool: it serves when the accounts before it cannot. Make it active with \`qwenauth use ${account.id}\``
}
