import { decimal } from '../lib/decimal.ts'
import { BEIJING_UTC_OFFSET_MINUTES, findProvider, QWEN_OAUTH_PROVIDER } from '../auth/api-key/providers.ts'
import { usageError } from '../lib/errors.ts'
import type { Account, QuotaLimit } from '../store/account-model.ts'
import type { LimitEdit } from '../store/account-settings.ts'
import { QUOTA_WINDOWS, type QuotaClock, type QuotaWindow } from '../store/usage-windows.ts'

/** Where the account's plan turns its days, weeks and months: its provider's zone, its own reset day. */
export function quotaClock(account: Account): QuotaClock {
  const offset = account.provider === QWEN_OAUTH_PROVIDER ? BEIJING_UTC_OFFSET_MINUTES : (findProvider(account.provider)?.quotaUtcOffsetMinutes ?? 0)
  return { utcOffsetMinutes: offset, monthResetDay: account.quotaResetDay ?? 1 }
}

const WINDOW_WORDS: Record<QuotaWindow, string> = { minute: 'a minute', '5h': 'in 5 hours', day: 'a day', week: 'a week', month: 'a month' }

/** `9000 requests a week`, `50M tokens a month`. */
export function describeLimit(limit: QuotaLimit): string {
  return `${limit.max.toLocaleString('en-US')} ${limit.unit} ${WINDOW_WORDS[limit.window]}`
}

/**
 * `--limit` values, repeatable or comma-separated, into edits. A preset name stands for the
 * limits the provider's plan documents. A bad entry is a usage error naming it and what works.
 */
export function parseLimitFlags(values: readonly string[], provider: string): LimitEdit[] {
  const presets = findProvider(provider)?.limitPresets ?? {}
  const edits: LimitEdit[] = []
  for (const entry of values.flatMap((v) => v.split(','))) {
    const text = entry.trim()
    if (!text) continue
    if (text === 'none') {
      edits.push({ clearAll: true })
      continue
    }
    const preset = presets[text]
    if (preset) {
      edits.push(...preset.map((limit) => ({ set: { ...limit } })))
      continue
    }
    const match = /^([a-z0-9]+?)(-tokens)?=(.+)$/.exec(text)
    const window = QUOTA_WINDOWS.find((w) => w === match?.[1])
    if (!match || !window) throw usageError(`--limit wants window=count with a window of ${QUOTA_WINDOWS.join(', ')} (e.g. 5h=1200, month-tokens=50M), none${presetHint(presets)}; got "${text}"`)
    const unit = match[2] ? 'tokens' : 'requests'
    const value = match[3] ?? ''
    if (value === 'none') {
      edits.push({ clear: { window, unit } })
      continue
    }
    const max = parseCount(value)
    if (max === undefined) throw usageError(`--limit ${match[1]}${match[2] ?? ''} wants a whole number above 0 (1200, 9k, 50M) or none, got "${value}"`)
    edits.push({ set: { window, unit, max } })
  }
  return edits
}

function presetHint(presets: Record<string, unknown>): string {
  const names = Object.keys(presets)
  return names.length > 0 ? `, or a preset of this provider (${names.join(', ')})` : ''
}

function parseCount(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text)
  if (!match) return undefined
  const n = Math.round(Number(match[1]) * ({ k: 1e3, m: 1e6 }[(match[2] ?? '').toLowerCase()] ?? 1))
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

/** `--reset-day`: 1 to 31 (a shorter month resets on its last day), or none. */
export function parseResetDay(text: string): number | null {
  if (text.trim() === 'none') return null
  const day = decimal(text)
  if (day === undefined || day < 1 || day > 31) throw usageError(`--reset-day wants the day of the month the plan's quota resets (1-31) or none, got "${text}"`)
  return day
}
