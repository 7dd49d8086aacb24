import { formatDuration } from '../lib/duration.ts'
import { ADD_SERVED_ACCOUNT, unusableReason } from '../pool/messages.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import { openaiError } from './errors.ts'
import type { AttemptFailure } from './state.ts'

/**
 * The answer when no account could serve: 429 with Retry-After at the earliest cooldown end
 * when waiting helps, 502 when usable accounts all failed upstream, else 503. The message names
 * every account and what to do about it.
 */
export function exhaustedResponse(accounts: Account[], failures: AttemptFailure[], now: number): Response {
  if (accounts.length === 0) {
    return openaiError(
      503,
      'qwenauth has no accounts: log in with `qwenauth login` (Qwen OAuth) or add an API key with `qwenauth login --provider <name|url>`',
      'service_unavailable',
      'no_accounts',
    )
  }
  const failedNow = new Map(failures.map((f) => [f.accountId, f.reason]))
  const described = accounts.map((a) => `${a.label} (${a.id}): ${unusableReason(a, now) ?? failedNow.get(a.id) ?? 'ok'}`).join('; ')

  const cooling = accounts.filter((a) => effectiveStatus(a, now) === 'cooling-down')
  if (cooling.length > 0) {
    const earliest = Math.min(...cooling.map((a) => a.cooldownUntil ?? now))
    const seconds = Math.max(1, Math.ceil((earliest - now) / 1000))
    const quota = cooling.some((a) => a.lastError?.code === 'insufficient_quota')
    return openaiError(
      429,
      `no account can serve right now: ${described}. The first one is usable again in ${formatDuration(earliest - now)}; or ${ADD_SERVED_ACCOUNT}`,
      quota ? 'insufficient_quota' : 'rate_limit_error',
      quota ? 'insufficient_quota' : 'rate_limit_exceeded',
      { 'retry-after': String(seconds) },
    )
  }
  if (failures.some((f) => f.transient)) {
    return openaiError(502, `the upstream failed for every account tried: ${described}. Retry shortly; \`qwenauth status\` shows the accounts`, 'server_error', 'upstream_error')
  }
  return openaiError(503, `no usable account: ${described}. Fix them, or ${ADD_SERVED_ACCOUNT}`, 'service_unavailable', 'no_usable_account')
}
