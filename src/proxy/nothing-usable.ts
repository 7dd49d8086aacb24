import { DEFAULTS } from '../defaults.ts'
import { formatDuration } from '../lib/duration.ts'
import { earliestCooldownEnd, LIMIT_REACHED, onTrial } from '../pool/choose.ts'
import { ADD_SERVED_ACCOUNT, describeAccounts } from '../pool/messages.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import { clientRefused } from './client-identity.ts'
import type { AttemptFailure } from './failover.ts'
import { proxyError, type ProxyError } from './protocols/protocol.ts'

/**
 * The answer when no account could serve, shaped so clients do not retry in vain: 429 with
 * Retry-After at the earliest cooldown or limit end when waiting helps (a second when an
 * account's trial request is under way), 403 `client_not_served` when the accounts that could
 * serve refused this client at their gate, 502 when usable accounts all failed upstream (worth a
 * retry), 403 when every account needs the user to act (not served, a refused key, a new login),
 * 503 with no accounts at all. The message names every account and what to do about it.
 */
export function nothingUsable(accounts: Account[], failures: AttemptFailure[], now: number, trialsRunning: ReadonlySet<string> = new Set()): ProxyError {
  if (accounts.length === 0) {
    return proxyError(
      503,
      'qwenauth has no accounts: log in with `qwenauth login` (Qwen OAuth) or add an API key with `qwenauth login --provider <name|url>`',
      'service_unavailable',
      'no_accounts',
    )
  }
  const failedNow = new Map(failures.map((f) => [f.accountId, f.reason]))
  // An account whose trial request is under way can take this one in a moment.
  const trying = accounts.filter((a) => onTrial(a, now) && trialsRunning.has(a.id) && !failedNow.has(a.id))
  for (const a of trying) failedNow.set(a.id, 'its cooldown ended; another request is trying it first')
  const described = describeAccounts(accounts, now, failedNow)
  const back = trying.length > 0 ? now + DEFAULTS.trialRetryAfterMs : earliestCooldownEnd(accounts, now)
  if (back !== undefined) {
    const seconds = Math.max(1, Math.ceil((back - now) / 1000))
    // A spent quota is said as one only when waiting is more than a client's retry covers.
    const quota =
      back - now > DEFAULTS.clientRetryWaitMs &&
      accounts.some((a) => effectiveStatus(a, now) === 'cooling-down' && (a.lastError?.code === 'insufficient_quota' || a.lastError?.code === LIMIT_REACHED))
    return proxyError(
      429,
      `no account can serve right now: ${described}. The first one is usable again in ${formatDuration(back - now)}; or ${ADD_SERVED_ACCOUNT}`,
      quota ? 'insufficient_quota' : 'rate_limit_error',
      quota ? 'insufficient_quota' : 'rate_limit_exceeded',
      { 'retry-after': String(seconds) },
    )
  }
  const gated = failures.filter((f) => f.gate)
  if (gated.length > 0 && !failures.some((f) => f.transient)) {
    return clientRefused(gated.map((f) => f.label), gated[0]?.gate?.userAgent, gated[0]?.gate?.said ?? '')
  }
  if (failures.some((f) => f.transient)) {
    return proxyError(502, `the upstream failed for every account tried: ${described}. Retry shortly; \`qwenauth status\` shows the accounts`, 'server_error', 'upstream_error')
  }
  return proxyError(403, `no usable account: ${described}. Fix them, or ${ADD_SERVED_ACCOUNT}`, 'permission_error', 'no_usable_account')
}
