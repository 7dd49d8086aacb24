import { formatDuration } from '../lib/duration.ts'
import { nextReset, type QuotaClock, type QuotaWindow } from '../store/usage-windows.ts'

/**
 * How long an account rests after a 429, as pure functions of what the provider said, the plan's
 * calendar and the clock (docs/qwen-protocol.md §8). The provider's own word wins (Retry-After,
 * a reset time); then a window's known reset (the Coding Plan's week turns Monday 00:00 UTC+8,
 * its month on the subscription day, OpenRouter's day at 00:00 UTC); then, for the sliding
 * 5-hour window, when the oldest request counted in it leaves it; then a documented default.
 */

/** What a 429 says: a spent quota (and of which window, when it names one) or a rate limit. */
export interface Refusal429 {
  quota: boolean
  window: QuotaWindow | undefined
}

const WINDOW_PATTERNS: ReadonlyArray<[RegExp, QuotaWindow]> = [
  [/\bweek|weekly/i, 'week'],
  [/\bmonth/i, 'month'],
  [/\bhour\b|\b5[- ]?h(ours?)?\b/i, '5h'],
  [/per-day|\bday\b|daily/i, 'day'],
  [/per-min|\bminute/i, 'minute'],
]

/**
 * `week allocated quota exceeded` (the Coding Plan), `Rate limit exceeded: free-models-per-day`
 * (OpenRouter), `insufficient_quota` (Qwen OAuth's daily quota): which window, and whether it is
 * a quota (hours to weeks) or a rate limit (seconds to a minute).
 */
export function classify429(code: string | undefined, message: string): Refusal429 {
  const window = WINDOW_PATTERNS.find(([pattern]) => pattern.test(message))?.[1]
  const quota = code === 'insufficient_quota' || /quota/i.test(message) || (window !== undefined && window !== 'minute')
  return { quota, window }
}

export interface RestInput {
  refusal: Refusal429
  now: number
  /** Retry-After, in ms from now. */
  retryAfterMs: number | undefined
  /** A reset time the provider sent (`X-RateLimit-Reset`), epoch ms. */
  resetAt: number | undefined
  clock: QuotaClock
  /** Whether the account's monthly reset day was set (else the month's end cannot be known). */
  resetDayKnown: boolean
  /** When the oldest request counted in the 5-hour window leaves it, if any was counted. */
  rollingFreeAt: number | undefined
}

export interface RestSettings {
  quotaCooldownMs: number
  rateLimitCooldownMs: number
  quotaWindowCooldownMs: Readonly<Record<'5h' | 'month', number>>
}

export interface Rest {
  until: number
  /** Why that long, for the log and `status`. */
  rule: string
}

/** At least a second: after `Retry-After: 0` the account must still be resting when the answer is made. */
const MIN_REST_MS = 1000

export function restAfter429(input: RestInput, settings: RestSettings): Rest {
  const { refusal, now } = input
  const at = (until: number, rule: string): Rest => ({ until, rule })
  const provider = (until: number, rule: string): Rest => at(Math.max(until, now + MIN_REST_MS), rule)
  if (input.resetAt !== undefined && input.resetAt > now) return provider(input.resetAt, "until the provider's reset time")
  if (input.retryAfterMs !== undefined) return provider(now + input.retryAfterMs, "for the provider's Retry-After")
  const window = refusal.window
  if (window === 'day' || window === 'week' || (window === 'month' && input.resetDayKnown)) {
    const reset = nextReset(window, input.clock, now) ?? now
    return at(reset, `until the ${WINDOW_NAMES[window]} window resets (${describeReset(reset, input.clock)})`)
  }
  if (window === 'month') {
    const ms = settings.quotaWindowCooldownMs.month
    return at(now + ms, `for ${formatDuration(ms)}: the monthly reset day is not set (\`qwenauth edit <account> --reset-day <day>\`)`)
  }
  if (window === '5h') {
    if (input.rollingFreeAt !== undefined && input.rollingFreeAt > now) return at(input.rollingFreeAt, 'until the oldest request counted in the 5-hour window leaves it')
    const ms = settings.quotaWindowCooldownMs['5h']
    return at(now + ms, `for ${formatDuration(ms)}: nothing counted in the 5-hour window tells when it frees up`)
  }
  if (refusal.quota) return at(now + settings.quotaCooldownMs, `for ${formatDuration(settings.quotaCooldownMs)}`)
  return at(now + settings.rateLimitCooldownMs, `for ${formatDuration(settings.rateLimitCooldownMs)}`)
}

const WINDOW_NAMES: Record<'day' | 'week' | 'month', string> = { day: 'daily', week: 'weekly', month: 'monthly' }

/** `Mon 2026-11-09 00:00 UTC+8`: the reset on the plan's own calendar. */
function describeReset(at: number, clock: QuotaClock): string {
  const local = new Date(at + clock.utcOffsetMinutes * 60_000)
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][local.getUTCDay()]
  const hours = clock.utcOffsetMinutes / 60
  const zone = hours === 0 ? 'UTC' : `UTC${hours > 0 ? '+' : ''}${hours}`
  return `${day} ${local.toISOString().slice(0, 16).replace('T', ' ')} ${zone}`
}

/** `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * `X-RateLimit-Reset` as an epoch time: OpenRouter sends milliseconds, others seconds; a small
 * number is seconds from now.
 */
export function resetHeaderAt(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0) return undefined
  if (n > 1e12) return n
  if (n > 1e9) return n * 1000
  return now + n * 1000
}
