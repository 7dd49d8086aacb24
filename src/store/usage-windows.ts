/**
 * Usage in the windows providers count quotas in (docs/qwen-protocol.md §8), as time buckets:
 * 5-minute buckets for the rolling 5 hours, minute buckets, and day buckets in the plan's time
 * zone from which today, this week and this month are summed. Each request adds one bucket of
 * each kind, so the counters stay small (about a hundred numbers per account) and an old
 * bucket can be dropped by its key alone. Pure functions; the clock is a parameter.
 */

export const QUOTA_WINDOWS = ['minute', '5h', 'day', 'week', 'month'] as const
export type QuotaWindow = (typeof QUOTA_WINDOWS)[number]

/** Where an account's calendar windows turn over. */
export interface QuotaClock {
  /** The plan's time zone, in minutes east of UTC (Alibaba: 480, UTC+8). */
  utcOffsetMinutes: number
  /** Day of the month the monthly window starts (the subscription day); 1 when unknown. */
  monthResetDay: number
}

/** Flat counters, `<bucket>.r` (requests) and `<bucket>.t` (tokens); stored as they are. */
export type UsageCounters = Record<string, number>

const MINUTE = 60_000
const FINE = 5 * MINUTE
const DAY = 24 * 60 * MINUTE
export const ROLLING_MS = 5 * 60 * MINUTE

export function usageDelta(clock: QuotaClock, at: number, tokens: number): UsageCounters {
  const delta: UsageCounters = {}
  for (const bucket of [`m5.${Math.floor(at / FINE)}`, `min.${Math.floor(at / MINUTE)}`, `d.${dayIndex(clock, at)}`]) {
    delta[`${bucket}.r`] = 1
    if (tokens > 0) delta[`${bucket}.t`] = tokens
  }
  return delta
}

/** Whether a counter has left every window (and can be deleted). Needs no clock: keys say their age. */
export function isStale(key: string, now: number): boolean {
  const [kind, index] = key.split('.')
  const n = Number(index)
  if (!Number.isFinite(n)) return true
  if (kind === 'm5') return (n + 1) * FINE <= now - ROLLING_MS - FINE
  if (kind === 'min') return n < Math.floor(now / MINUTE) - 1
  // Day buckets: a month back, and a day more for any time zone.
  if (kind === 'd') return n < Math.floor(now / DAY) - 33
  return true
}

export function pruneUsage(usage: UsageCounters, now: number): UsageCounters {
  for (const key of Object.keys(usage)) if (isStale(key, now)) delete usage[key]
  return usage
}

export interface WindowUsage {
  requests: number
  tokens: number
  /** When the count next goes down: the window's end, or (rolling) when its oldest request leaves it; null when nothing is counted in a rolling window. */
  resetsAt: number | null
}

/** The count of one window as of `now`. */
export function windowUsage(usage: UsageCounters | undefined, window: QuotaWindow, clock: QuotaClock, now: number): WindowUsage {
  const u = usage ?? {}
  const sum = (kind: string, from: number, to: number) => {
    let requests = 0
    let tokens = 0
    for (let i = from; i <= to; i++) {
      requests += u[`${kind}.${i}.r`] ?? 0
      tokens += u[`${kind}.${i}.t`] ?? 0
    }
    return { requests, tokens }
  }
  if (window === 'minute') {
    const i = Math.floor(now / MINUTE)
    return { ...sum('min', i, i), resetsAt: (i + 1) * MINUTE }
  }
  if (window === '5h') {
    const buckets = rollingBuckets(u, now)
    const oldest = buckets.find((b) => b.requests > 0)
    return {
      requests: buckets.reduce((n, b) => n + b.requests, 0),
      tokens: buckets.reduce((n, b) => n + b.tokens, 0),
      resetsAt: oldest ? oldest.leavesAt : null,
    }
  }
  const today = dayIndex(clock, now)
  const start = window === 'day' ? today : window === 'week' ? weekStart(today) : monthStart(today, clock.monthResetDay)
  return { ...sum('d', start, today), resetsAt: nextReset(window, clock, now) }
}

interface Bucket {
  requests: number
  tokens: number
  /** When this bucket's requests leave the rolling window. */
  leavesAt: number
}

/** The 5-minute buckets that overlap the last 5 hours, oldest first (the oldest counts whole: a limit errs on the safe side). */
function rollingBuckets(usage: UsageCounters, now: number): Bucket[] {
  const last = Math.floor(now / FINE)
  const first = Math.floor((now - ROLLING_MS) / FINE)
  const buckets: Bucket[] = []
  for (let i = first; i <= last; i++) {
    buckets.push({ requests: usage[`m5.${i}.r`] ?? 0, tokens: usage[`m5.${i}.t`] ?? 0, leavesAt: (i + 1) * FINE + ROLLING_MS })
  }
  return buckets.filter((b) => b.leavesAt > now)
}

/**
 * When the rolling count of `unit` drops below `limit`, as the oldest buckets leave the window;
 * `now` when it already is below. The soonest an account at a 5-hour limit can serve again.
 */
export function rollingFreeAt(usage: UsageCounters | undefined, unit: 'requests' | 'tokens', limit: number, now: number): number {
  const buckets = rollingBuckets(usage ?? {}, now)
  let total = buckets.reduce((n, b) => n + b[unit], 0)
  for (const bucket of buckets) {
    if (total < limit) break
    total -= bucket[unit]
    if (total < limit) return bucket.leavesAt
  }
  return now
}

/** When a calendar window (day, week, month) starts again; a minute's next start; `5h` has none. */
export function nextReset(window: QuotaWindow, clock: QuotaClock, now: number): number | null {
  const offset = clock.utcOffsetMinutes * MINUTE
  const today = dayIndex(clock, now)
  switch (window) {
    case 'minute':
      return (Math.floor(now / MINUTE) + 1) * MINUTE
    case 'day':
      return (today + 1) * DAY - offset
    case 'week':
      return (weekStart(today) + 7) * DAY - offset
    case 'month':
      return nextMonthStart(today, clock.monthResetDay) * DAY - offset
    default:
      return null
  }
}

/** Days since 1970-01-01 on the plan's calendar. */
function dayIndex(clock: QuotaClock, at: number): number {
  return Math.floor((at + clock.utcOffsetMinutes * MINUTE) / DAY)
}

/** The Monday of the week (1970-01-01 was a Thursday). */
function weekStart(day: number): number {
  return day - ((day + 3) % 7)
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate()
}

/** The reset day in that month, or the month's last day when it is shorter (a 31st in February). */
function resetDayOf(year: number, month: number, resetDay: number): number {
  return Date.UTC(year, month, Math.min(resetDay, daysIn(year, month))) / DAY
}

function monthStart(day: number, resetDay: number): number {
  const date = new Date(day * DAY)
  const [year, month] = [date.getUTCFullYear(), date.getUTCMonth()]
  const thisMonth = resetDayOf(year, month, resetDay)
  return day >= thisMonth ? thisMonth : resetDayOf(year, month - 1, resetDay)
}

function nextMonthStart(day: number, resetDay: number): number {
  const start = new Date(monthStart(day, resetDay) * DAY)
  return resetDayOf(start.getUTCFullYear(), start.getUTCMonth() + 1, resetDay)
}
