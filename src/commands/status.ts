import { defineCommand } from 'citty'
import { formatDuration } from '../lib/duration.ts'
import { createContext } from '../context.ts'
import { redact, registerSecret, secretHint } from '../lib/redact.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import { readAllStats } from '../store/stats-backend.ts'
import type { AccountStats } from '../store/stats.ts'
import { jsonArg, printOut } from './_shared.ts'

export interface StatusEntry {
  id: string
  label: string
  provider: string
  kind: Account['kind']
  active: boolean
  status: Account['status']
  expiresAt: number | null
  cooldownUntil: number | null
  keyHint: string | null
  baseUrl: string
  model: string | null
  lastError: string | null
  /** What `serve` and `exec` counted for this account, null before its first request. */
  stats: AccountStats | null
}

/**
 * Secrets never leave this function: only a key's last four characters. Error messages are
 * the upstream's own words, which may repeat a token or key, so they are redacted.
 */
export async function runStatus(): Promise<StatusEntry[]> {
  const ctx = createContext()
  const doc = await ctx.accounts.read()
  for (const a of doc.accounts) for (const secret of [a.accessToken, a.refreshToken, a.apiKey]) registerSecret(secret)
  const stats = await readAllStats(ctx)
  const now = Date.now()
  return doc.accounts.map((a, index) => ({
    id: a.id,
    label: a.label,
    provider: a.provider,
    kind: a.kind,
    active: index === 0,
    status: effectiveStatus(a, now),
    expiresAt: a.kind === 'qwen-oauth' ? (a.expiresAt ?? null) : null,
    cooldownUntil: effectiveStatus(a, now) === 'cooling-down' ? (a.cooldownUntil ?? null) : null,
    keyHint: a.kind === 'api-key' ? secretHint(a.apiKey) : null,
    baseUrl: a.baseUrl,
    model: a.model ?? null,
    lastError: a.lastError ? redact(a.lastError.message) : null,
    stats: redactedStats(stats[a.id]),
  }))
}

function redactedStats(stats: AccountStats | undefined): AccountStats | null {
  if (!stats) return null
  return stats.lastError ? { ...stats, lastError: { ...stats.lastError, message: redact(String(stats.lastError.message)) } } : stats
}

export function renderStatusTable(entries: StatusEntry[], now = Date.now()): string {
  if (entries.length === 0) return 'No accounts. Add one with `qwenauth login` (Qwen OAuth) or `qwenauth login --provider <name>` (API key).\n'
  const rows = entries.map((e, i) => [
    String(i + 1),
    e.active ? '*' : '',
    e.id,
    e.label,
    e.provider + (e.keyHint ? ` (key ${e.keyHint})` : ''),
    e.status === 'cooling-down' && e.cooldownUntil ? `cooling-down ${formatDuration(e.cooldownUntil - now)}` : e.status,
    e.expiresAt === null ? '-' : e.expiresAt > now ? formatDuration(e.expiresAt - now) : 'expired',
    e.stats ? `${e.stats.requests}${e.stats.failures ? ` (${e.stats.failures} failed)` : ''}` : '-',
    e.stats ? `${compactCount(e.stats.promptTokens)}/${compactCount(e.stats.completionTokens)}` : '-',
  ])
  const header = ['#', 'ACTIVE', 'ID', 'LABEL', 'PROVIDER', 'STATUS', 'EXPIRES IN', 'REQUESTS', 'TOKENS IN/OUT']
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd()
  const errors = entries.filter((e) => e.lastError && e.status !== 'ok').map((e) => `  ${e.id}: ${e.lastError}`)
  return [line(header), ...rows.map(line), ...(errors.length ? ['', 'Last errors:', ...errors] : [])].join('\n') + '\n'
}

function compactCount(n: number): string {
  if (n < 1000) return String(n)
  return n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(1)}M`
}

export default defineCommand({
  meta: { name: 'status', description: 'List accounts in pool order: active, status, expiry, cooldowns, last error' },
  args: { ...jsonArg },
  async run({ args }) {
    const entries = await runStatus()
    printOut(args.json ? JSON.stringify({ accounts: entries }, null, 2) : renderStatusTable(entries))
  },
})
