import { defineCommand } from 'citty'
import { formatDuration } from '../lib/duration.ts'
import { createContext } from '../context.ts'
import { accountViews, type AccountView } from '../pool/account-view.ts'
import { readAllStats } from '../store/stats-backend.ts'
import { jsonArg, printOut } from './_shared.ts'

/** One row of `status`: the view every surface shows. */
export type StatusEntry = AccountView

export async function runStatus(): Promise<StatusEntry[]> {
  const ctx = createContext()
  try {
    const doc = await ctx.accounts.read()
    return accountViews(doc.accounts, await readAllStats(ctx), Date.now())
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
