import type { Account } from '../store/account-model.ts'
import { findProvider, QWEN_OAUTH_DEFAULT_MODEL } from '../auth/api-key/providers.ts'
import { usageError } from '../lib/errors.ts'

/** The model an account is asked for when a client names none (OPENAI_MODEL too). */
export function defaultModel(account: Account): string {
  if (account.model) return account.model
  if (account.kind === 'qwen-oauth') return QWEN_OAUTH_DEFAULT_MODEL
  return findProvider(account.provider)?.defaultModel ?? QWEN_OAUTH_DEFAULT_MODEL
}

/**
 * The name to send upstream for a model a client asked for. Clients configured for Qwen OAuth
 * ask for `coder-model`; a key account serves the same model under its provider's name. The
 * account's own aliases win over the provider table; unknown names pass through unchanged.
 */
export function upstreamModel(account: Account, requested: string | undefined): string {
  if (!requested) return defaultModel(account)
  const alias = account.aliases?.[requested] ?? findProvider(account.provider)?.aliases[requested]
  return alias ?? requested
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
