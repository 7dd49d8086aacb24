import type { Account } from '../store/account-model.ts'
import { findProvider, PROVIDERS, QWEN_OAUTH_DEFAULT_MODEL } from '../auth/api-key/providers.ts'
import { usageError } from '../lib/errors.ts'

/** The model an account is asked for when a client names none (OPENAI_MODEL too). */
export function defaultModel(account: Account): string {
  if (account.model) return account.model
  if (account.kind === 'qwen-oauth') return QWEN_OAUTH_DEFAULT_MODEL
  return findProvider(account.provider)?.defaultModel ?? QWEN_OAUTH_DEFAULT_MODEL
}

/** This account's own renames over its provider's table. */
function aliasOf(account: Account, model: string): string | undefined {
  return account.aliases?.[model] ?? findProvider(account.provider)?.aliases[model]
}

/**
 * The neutral name (Qwen Code's, such as `coder-model`) of a provider-specific model name, found
 * through this account's aliases and every provider's table; undefined when none names it.
 */
export function neutralModel(model: string, account?: Account): string | undefined {
  for (const [neutral, name] of Object.entries(account?.aliases ?? {})) if (name === model) return neutral
  for (const provider of PROVIDERS) for (const [neutral, name] of Object.entries(provider.aliases)) if (name === model) return neutral
  return undefined
}

/**
 * The model a proxied client is told to ask for (OPENAI_MODEL under `exec`): the neutral name of
 * the account's default, so whichever account the proxy fails over to maps it to its own name.
 * A default no table knows (a custom provider's own model) stays as it is.
 */
export function clientModel(account: Account): string {
  const model = defaultModel(account)
  return neutralModel(model, account) ?? model
}

/**
 * Whether the account's own provider family (Alibaba's plans and DashScope) knows this name:
 * the account's default, or a name in a table of that family. Such a name is the provider's
 * own, asked for on purpose, and passes unchanged.
 */
function ownName(account: Account, model: string): boolean {
  if (account.model === model) return true
  const family = familyOf(account.provider)
  return PROVIDERS.some((p) => familyOf(p.name) === family && (p.defaultModel === model || Object.values(p.aliases).includes(model)))
}

function familyOf(provider: string): string {
  return findProvider(provider)?.family ?? provider
}

/**
 * The name to send upstream for a model a client asked for. Clients configured for Qwen OAuth
 * ask for `coder-model`; a key account serves the same model under its provider's name. A name
 * that another provider uses for a neutral model (`qwen/qwen3-coder`, OpenRouter's coder) goes
 * back to the neutral name and on to this account's name, so a request that fails over from one
 * provider to another still names a model the new one knows. The account's own aliases win over
 * the provider table; the provider family's own names, and names nobody maps, pass unchanged.
 */
export function upstreamModel(account: Account, requested: string | undefined): string {
  if (!requested) return defaultModel(account)
  const direct = aliasOf(account, requested)
  if (direct) return direct
  if (ownName(account, requested)) return requested
  const neutral = neutralModel(requested, account)
  if (neutral === undefined) return requested
  return aliasOf(account, neutral) ?? neutral
}

/**
 * `--alias coder-model=qwen3-coder-next` values, repeatable or comma-separated, into one table.
 * A bad entry is a usage error naming it, so a typo never silently maps nothing.
 */
export function parseAliasFlags(values: readonly string[]): Record<string, string> {
  const aliases: Record<string, string> = {}
  for (const entry of values.flatMap((v) => v.split(','))) {
    const trimmed = entry.trim()
    if (!trimmed) continue
    const eq = trimmed.indexOf('=')
    const from = trimmed.slice(0, eq).trim()
    const to = trimmed.slice(eq + 1).trim()
    if (eq <= 0 || !from || !to) throw usageError(`--alias wants requested=upstream (e.g. coder-model=qwen3-coder-plus), got "${trimmed}"`)
    aliases[from] = to
  }
  return aliases
}
