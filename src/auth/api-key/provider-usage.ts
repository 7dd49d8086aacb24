import { DEFAULTS } from '../../defaults.ts'
import { maxAnswerBytes, readTextAtMost } from '../../lib/bytes.ts'
import { deadline } from '../../lib/deadline.ts'
import { errorText } from '../../lib/errors.ts'
import { redact } from '../../lib/redact.ts'
import type { Account } from '../../store/account-model.ts'
import { providerMessage } from './verify-key.ts'

/**
 * What a provider reports about a key's usage itself, shown beside qwenauth's own counts
 * (`status --provider-usage`). Only OpenRouter reports it over the API (`GET {base}/key`:
 * credits used and left, the free-tier state, docs/qwen-protocol.md §8); Alibaba's plans show
 * it in their console only.
 */
export interface ProviderUsage {
  /** The key is on the free tier (OpenRouter: no credits bought; free models then allow 50 requests a day). */
  freeTier: boolean | null
  /** Credit limit of the key (null: none), what was used, and what is left, in the provider's credits (USD). */
  limit: number | null
  used: number | null
  remaining: number | null
  usedToday: number | null
  usedThisWeek: number | null
  usedThisMonth: number | null
  /** When the limit resets (`daily`, `weekly`, `monthly`), if it does. */
  limitReset: string | null
}

export type ProviderUsageResult = { reported: ProviderUsage } | { error: string } | { notReported: string }

export async function fetchProviderUsage(account: Account, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ProviderUsageResult> {
  if (account.provider !== 'openrouter' || !account.apiKey) return { notReported: `${account.provider} does not report usage over its API` }
  const url = `${account.baseUrl.replace(/\/+$/, '')}/key`
  const timeoutMs = options.timeoutMs ?? DEFAULTS.providerUsageTimeoutMs
  const limit = deadline(timeoutMs, options.signal)
  try {
    const response = await fetch(url, { headers: { authorization: `Bearer ${account.apiKey}`, accept: 'application/json' }, signal: limit.signal })
    const text = await readTextAtMost(response, maxAnswerBytes())
    if (!response.ok) return { error: `GET ${url} answered ${response.status}: ${redact(providerMessage(text)) || response.statusText}` }
    const data = (JSON.parse(text) as { data?: Record<string, unknown> }).data ?? {}
    return {
      reported: {
        freeTier: typeof data.is_free_tier === 'boolean' ? data.is_free_tier : null,
        limit: numberOrNull(data.limit),
        used: numberOrNull(data.usage),
        remaining: numberOrNull(data.limit_remaining),
        usedToday: numberOrNull(data.usage_daily),
        usedThisWeek: numberOrNull(data.usage_weekly),
        usedThisMonth: numberOrNull(data.usage_monthly),
        limitReset: typeof data.limit_reset === 'string' ? data.limit_reset : null,
      },
    }
  } catch (error) {
    return { error: `GET ${url} failed: ${limit.timedOut() ? `no answer within ${timeoutMs / 1000} s` : redact(errorText(error))}` }
  } finally {
    limit.clear()
  }
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

/** One line for the status table. */
export function describeProviderUsage(result: ProviderUsageResult): string {
  if ('notReported' in result) return result.notReported
  if ('error' in result) return result.error
  const u = result.reported
  const credits = (n: number | null) => (n === null ? '?' : String(Math.round(n * 100) / 100))
  const parts = [u.freeTier === null ? '' : u.freeTier ? 'free tier' : 'credits bought']
  parts.push(u.limit === null ? `${credits(u.used)} credits used, no limit` : `${credits(u.used)} of ${credits(u.limit)} credits used (${credits(u.remaining)} left${u.limitReset ? `, resets ${u.limitReset}` : ''})`)
  if (u.usedToday !== null) parts.push(`today ${credits(u.usedToday)}, this week ${credits(u.usedThisWeek)}, this month ${credits(u.usedThisMonth)}`)
  return parts.filter(Boolean).join('; ')
}
