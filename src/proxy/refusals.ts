import { formatDuration } from '../lib/duration.ts'
import { redact } from '../lib/redact.ts'
import { quotaClock } from '../pool/limits.ts'
import type { InFlight } from '../pool/pool.ts'
import type { Account } from '../store/account-model.ts'
import { windowUsage } from '../store/usage-windows.ts'
import { classify429, resetHeaderAt, restAfter429, retryAfterMs } from './cooldowns.ts'
import type { AttemptFailure } from './failover.ts'
import { countServed } from './relay.ts'
import type { ProxyState } from './state.ts'
import { readAll, type UpstreamExchange } from './upstream.ts'

/** What an upstream's refusal says, and the rest a 429 (or an account that cannot pay) earns an account. */
export interface Sent {
  response: Response
  exchange: UpstreamExchange
}

export interface UpstreamError {
  code: string | undefined
  message: string
  /** The whole body, redacted. */
  text: string
  retryAfterMs: number | undefined
  /** A reset time the provider sent, in a header or (OpenRouter) in the error's metadata. */
  resetAt: number | undefined
  /** Why the body could not be read whole (cut off, silent, too large); undefined when it was. */
  unread?: unknown
}

/** The code and message of an upstream error, whatever shape it has (OpenAI's, Anthropic's, none). */
export async function readUpstreamError(state: ProxyState, sent: Sent): Promise<UpstreamError> {
  const { response, exchange } = sent
  let text = ''
  let unread: unknown
  try {
    // Some upstreams echo the request's credential in their errors; this text goes to clients,
    // logs, `status` and the counters file.
    text = redact(new TextDecoder().decode(await readAll(response, exchange, state.settings.idleTimeoutMs, state.settings.maxAnswerBytes)))
  } catch (error) {
    unread = exchange.cause(error)
  }
  exchange.finish()
  let code: string | undefined
  let message = text.slice(0, 300) || response.statusText || `status ${response.status}`
  let resetHeader = response.headers.get('x-ratelimit-reset')
  try {
    const error = (JSON.parse(text) as { error?: string | { code?: unknown; type?: unknown; message?: unknown; metadata?: { headers?: Record<string, unknown> } } }).error
    // The Coding Plan's gate answers `{"error":"…"}`, a bare string.
    if (typeof error === 'string') message = error
    else {
      if (typeof error?.code === 'string') code = error.code
      else if (typeof error?.type === 'string') code = error.type
      if (typeof error?.message === 'string') message = error.message
      const sentInBody = error?.metadata?.headers?.['X-RateLimit-Reset']
      if (!resetHeader && (typeof sentInBody === 'string' || typeof sentInBody === 'number')) resetHeader = String(sentInBody)
    }
  } catch {}
  const now = state.settings.now()
  return { code, message, text, retryAfterMs: retryAfterMs(response.headers.get('retry-after'), now), resetAt: resetHeaderAt(resetHeader, now), unread }
}

/** A 429: the account rests for the window the provider named (cooldowns.ts) and the request moves on. */
export async function restAccount(state: ProxyState, account: Account, limited: UpstreamError, hold?: InFlight): Promise<AttemptFailure> {
  const now = state.settings.now()
  const refusal = classify429(limited.code, limited.message)
  const clock = quotaClock(account)
  const counted = refusal.window === '5h' ? (await state.pool.usageOf(account.id))?.usage : undefined
  const rest = restAfter429(
    {
      refusal,
      now,
      retryAfterMs: limited.retryAfterMs,
      resetAt: limited.resetAt,
      clock,
      resetDayKnown: account.quotaResetDay !== undefined,
      rollingFreeAt: counted ? (windowUsage(counted, '5h', clock, now).resetsAt ?? undefined) : undefined,
    },
    state.settings,
  )
  const reason = `${refusal.quota ? 'quota exhausted' : 'rate limited'} (${limited.message}); resting ${rest.rule}`
  return markRest(state, account, { status: 429, until: rest.until, reason, quota: refusal.quota, code: refusal.quota ? 'insufficient_quota' : (limited.code ?? 'rate_limited') }, hold)
}

/**
 * A refusal that says the account itself cannot pay for requests now: OpenRouter's 402 ("Your
 * account or API key has insufficient credits"), DashScope's `Arrearage` ("Access denied, please
 * make sure your account is in good standing"). No request fares better on that account; another
 * may serve. OpenRouter's 402 "This request requires more credits, or fewer max_tokens. … but can
 * only afford N" with N above 0 is about the request: a smaller max_tokens is served by the same
 * account, so it goes to the client, which can act on it.
 */
export function cannotPay(status: number, refused: UpstreamError): boolean {
  if (refused.code === 'Arrearage') return true
  if (status !== 402) return false
  const affords = /can only afford (\d+)/.exec(refused.message)?.[1]
  return affords === undefined || Number(affords) === 0
}

/**
 * The account rests as after a spent quota (QWENAUTH_QUOTA_COOLDOWN_MS; a trial request then
 * tries it, so a top-up is noticed) and the request moves on.
 */
export function restUnpaid(state: ProxyState, account: Account, status: number, refused: UpstreamError, hold?: InFlight): AttemptFailure {
  const ms = state.settings.quotaCooldownMs
  const reason = `out of credits (${status}: ${refused.message}); resting for ${formatDuration(ms)}`
  return markRest(state, account, { status, until: state.settings.now() + ms, reason, quota: true, code: 'insufficient_quota' }, hold)
}

/** A refusal that rests the account: counted, in the metrics, the cooldown stored; the request moves on. */
function markRest(state: ProxyState, account: Account, refusal: { status: number; until: number; reason: string; quota: boolean; code: string }, hold?: InFlight): AttemptFailure {
  countServed(state, account, refusal.status, undefined, refusal.reason, hold)
  state.metrics.cooldown(account.id, refusal.quota ? 'quota' : 'rate_limit')
  void state.pool.markCooldown(account.id, refusal.until, refusal.reason, refusal.code)
  return { accountId: account.id, label: account.label, reason: refusal.reason, transient: false }
}
