import { defineCommand } from 'citty'
import { describeProviderUsage, fetchProviderUsage, type ProviderUsageResult } from '../auth/api-key/provider-usage.ts'
import { createContext } from '../context.ts'
import { formatDuration } from '../lib/duration.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import { oneLine } from '../lib/one-line.ts'
import { accountViews, type AccountView, type WindowView } from '../pool/account-view.ts'
import { readAllStats } from '../store/stats-backend.ts'
import type { QuotaWindow } from '../store/usage-windows.ts'
import { jsonArg, printOut } from './_shared.ts'

/** One row of `status`: the view every surface shows, and what the provider reports when asked. */
export type StatusEntry = AccountView & { providerUsage?: ProviderUsageResult }

export async function runStatus(options: { providerUsage?: boolean; now?: number } = {}): Promise<StatusEntry[]> {
  const ctx = createContext()
  try {
    const doc = await ctx.accounts.read()
    const now = options.now ?? Date.now()
    const entries: StatusEntry[] = accountViews(doc.accounts, await readAllStats(ctx), now)
    if (options.providerUsage) {
      const reports = await Promise.all(doc.accounts.map((a) => fetchProviderUsage(a, { signal: interruptSignal })))
      entries.forEach((entry, i) => (entry.providerUsage = reports[i]))
    }
    return entries
  } finally {
    await ctx.close()
  }
}

export function renderStatusTable(entries: StatusEntry[], now = Date.now()): string {
  if (entries.length === 0) return 'No accounts. Add one with `qwenauth login` (Qwen OAuth) or `qwenauth login --provider <name>` (API key).\n'
  const rows = entries.map((e, i) => [
    String(i + 1),
    e.active ? '*' : '',
    e.id,
    e.label,
    e.provider + (e.keyHint ? ` (key ${e.keyHint})` : ''),
    e.model,
    e.status === 'cooling-down' && e.cooldownUntil ? `${e.atLimit ? 'at-limit' : 'cooling-down'} ${formatDuration(e.cooldownUntil - now)}` : e.status,
    e.expiresAt === null ? '-' : e.expiresAt > now ? formatDuration(e.expiresAt - now) : 'expired',
    e.stats ? `${e.stats.requests}${e.stats.failures ? ` (${e.stats.failures} failed)` : ''}` : '-',
    e.stats ? `${compactCount(e.stats.promptTokens)}/${compactCount(e.stats.completionTokens)}` : '-',
  ])
  const header = ['#', 'ACTIVE', 'ID', 'LABEL', 'PROVIDER', 'MODEL', 'STATUS', 'EXPIRES IN', 'REQUESTS', 'TOKENS IN/OUT']
  // Labels, models, errors and the providers' figures come from outside (token claims, clients,
  // upstreams, a shared store): each stays on its line, without escape sequences.
  const errors = entries.filter((e) => e.lastError && e.status !== 'ok').map((e) => `  ${e.id}: ${oneLine(e.lastError!)}`)
  const reported = entries.filter((e) => e.providerUsage).map((e) => `  ${e.id}: ${oneLine(describeProviderUsage(e.providerUsage!))}`)
  return [
    ...table(header, rows),
    ...usageTable(entries, now),
    ...(errors.length ? ['', 'Last errors:', ...errors] : []),
    ...(reported.length ? ['', "The providers' own figures:", ...reported] : []),
  ].join('\n') + '\n'
}

function table(header: string[], cells: string[][]): string[] {
  const rows = cells.map((row) => row.map(oneLine))
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)]
}

const WINDOW_HEADERS: Record<QuotaWindow, string> = { minute: 'MINUTE', '5h': '5 HOURS', day: 'TODAY', week: 'WEEK', month: 'MONTH' }

/**
 * Usage against limits, one row per account that has either: requests counted (and tokens,
 * where a token limit is set), the limit after a slash, and in brackets when the window next
 * frees up (a countdown).
 */
function usageTable(entries: StatusEntry[], now: number): string[] {
  const shown = entries.filter((e) => Object.values(e.usage).some((w) => w.requests > 0 || w.limits.requests || w.limits.tokens))
  if (shown.length === 0) return []
  const windows: QuotaWindow[] = ['5h', 'day', 'week', 'month']
  if (shown.some((e) => e.usage.minute.limits.requests || e.usage.minute.limits.tokens)) windows.unshift('minute')
  const rows = shown.map((e) => [e.id, ...windows.map((w) => usageCell(e.usage[w], now))])
  return ['', 'Usage: requests counted / your limit (time until the window frees up)', ...table(['ID', ...windows.map((w) => WINDOW_HEADERS[w])], rows)]
}

function usageCell(w: WindowView, now: number): string {
  const requests = `${w.requests}${w.limits.requests ? `/${w.limits.requests}` : ''}`
  const tokens = w.limits.tokens ? ` ${compactCount(w.tokens)}/${compactCount(w.limits.tokens)} tok` : ''
  const resets = w.resetsAt !== null && (w.requests > 0 || w.limits.requests || w.limits.tokens) ? ` (${formatDuration(w.resetsAt - now)})` : ''
  return `${requests}${tokens}${resets}`
}

function compactCount(n: number): string {
  if (n < 1000) return String(n)
  return n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(1)}M`
}

export default defineCommand({
  meta: { name: 'status', description: 'List accounts in pool order: active, model, status, expiry, cooldowns, usage against limits, last error' },
  args: {
    ...jsonArg,
    'provider-usage': { type: 'boolean', description: 'Also ask each provider that reports usage over its API (OpenRouter) for its own figures' },
  },
  async run({ args }) {
    const now = Date.now()
    const entries = await runStatus({ providerUsage: Boolean(args['provider-usage']), now })
    printOut(args.json ? JSON.stringify({ accounts: entries }, null, 2) : renderStatusTable(entries, now))
  },
})
