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
 * The target of the first entry of a mapping that names `model`: an exact entry first, then
 * patterns in their order, where `*` stands for any run of characters (`claude-*haiku*`).
 */
export function mapped(map: Readonly<Record<string, string>> | undefined, model: string): string | undefined {
  if (!map) return undefined
  if (Object.hasOwn(map, model)) return map[model]
  for (const [pattern, target] of Object.entries(map)) if (pattern.includes('*') && globMatches(pattern, model)) return target
  return undefined
}

function globMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('.*')}$`).test(name)
}

/** Anthropic's model names (what Claude Code and Anthropic SDKs ask for): no Qwen account serves them as such. */
export function isClaudeModel(model: string): boolean {
  return /^claude(-|$)/i.test(model)
}

/**
 * The neutral name (Qwen Code's, such as `coder-model`) of a provider-specific model name, found
 * through this account's aliases and every provider's table; undefined when none names it.
 */
export function neutralModel(model: string, account?: Account): string | undefined {
  // Patterns and Anthropic names map requests in; they are nobody's neutral name.
  if (account?.aliases) for (const neutral in account.aliases) if (account.aliases[neutral] === model && !neutral.includes('*') && !isClaudeModel(neutral)) return neutral
  return tableNeutral().get(model)
}

/** Provider name → neutral name over every provider's table, the first table naming it winning; built once. */
let neutralByName: Map<string, string> | undefined
function tableNeutral(): Map<string, string> {
  if (!neutralByName) {
    neutralByName = new Map()
    for (const provider of PROVIDERS) for (const [neutral, name] of Object.entries(provider.aliases)) if (!neutralByName.has(name)) neutralByName.set(name, neutral)
  }
  return neutralByName
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
  return account.model === model || familyNames(familyOf(account.provider)).has(model)
}

/** The model names a provider family's tables hold; worked out once per family (the provider table is fixed). */
const namesByFamily = new Map<string, Set<string>>()
function familyNames(family: string): Set<string> {
  let names = namesByFamily.get(family)
  if (!names) {
    names = new Set(PROVIDERS.filter((p) => familyOf(p.name) === family).flatMap((p) => [p.defaultModel, ...Object.values(p.aliases)]))
    namesByFamily.set(family, names)
  }
  return names
}

function familyOf(provider: string): string {
  return findProvider(provider)?.family ?? provider
}

/**
 * The name to send upstream for a model a client asked for. Clients configured for Qwen OAuth
 * ask for `coder-model`; a key account serves the same model under its provider's name. A name
 * that another provider uses for a neutral model (`qwen/qwen3-coder`, OpenRouter's coder) goes
 * back to the neutral name and on to this account's name, so a request that fails over from one
 * provider to another still names a model the new one knows.
 *
 * In order: the account's own aliases (exact, then patterns such as `claude-*haiku*`), then the
 * server's model map (`serve --model-map`, whose target is mapped on as if the client had asked
 * for it), then the provider table; the provider family's own names pass unchanged. A `claude-*`
 * name nothing maps becomes the account's default model; other names nobody maps pass through
 * unchanged.
 */
export function upstreamModel(account: Account, requested: string | undefined, serverMap?: Readonly<Record<string, string>>): string {
  if (!requested) return defaultModel(account)
  const own = mapped(account.aliases, requested)
  if (own) return own
  const chosen = mapped(serverMap, requested) ?? requested
  const direct = aliasOf(account, chosen)
  if (direct) return direct
  if (ownName(account, chosen)) return chosen
  const neutral = neutralModel(chosen, account)
  if (neutral !== undefined) return aliasOf(account, neutral) ?? neutral
  return isClaudeModel(chosen) ? defaultModel(account) : chosen
}

/**
 * `--alias coder-model=qwen3-coder-next` values (also `--model-map` and QWENAUTH_MODEL_MAP, whose
 * names may be patterns such as `claude-*haiku*`), repeatable or comma-separated, into one
 * table. A bad entry is a usage error naming it, so a typo never silently maps nothing.
 */
export function parseAliasFlags(values: readonly string[], flag = '--alias'): Record<string, string> {
  const aliases: Record<string, string> = {}
  for (const entry of values.flatMap((v) => v.split(','))) {
    const trimmed = entry.trim()
    if (!trimmed) continue
    const eq = trimmed.indexOf('=')
    const from = trimmed.slice(0, eq).trim()
    const to = trimmed.slice(eq + 1).trim()
    if (eq <= 0 || !from || !to) throw usageError(`${flag} wants requested=upstream (e.g. coder-model=qwen3-coder-plus or claude-*haiku*=qwen3-coder-flash), got "${trimmed}"`)
    aliases[from] = to
  }
  return aliases
}
