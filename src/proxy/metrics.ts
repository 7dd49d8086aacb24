import { usageLines, type AccountView } from '../pool/account-view.ts'
import { VERSION } from '../lib/version.ts'
import type { AccountStatus } from '../store/account-model.ts'
import { PrometheusText, type Labels } from './prometheus-text.ts'

/** Upstream answers take from milliseconds (a cached refusal) to minutes (a long generation). */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const FIRST_BYTE_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const STATUSES: readonly AccountStatus[] = ['ok', 'cooling-down', 'not-served', 'needs-login']

/** One request's outcome, as the request record knows it when the answer (or stream) is over. */
export interface RequestOutcome {
  route: string
  protocol: string
  accountId: string | undefined
  status: number | string
  promptTokens: number
  completionTokens: number
}

/**
 * What `GET /metrics` reports, counted in memory by this process since it started (Prometheus
 * adds up instances itself; the store's counters, shared by every instance, are `status`'s).
 * Recording is a map lookup and an addition, cheap enough for every request.
 */
export class ProxyMetrics {
  readonly startedAt: number
  private readonly requests = new Counter(['route', 'protocol', 'account', 'status'])
  private readonly inputTokens = new Counter(['account'])
  private readonly outputTokens = new Counter(['account'])
  private readonly failovers = new Counter(['account'])
  private readonly refreshes = new Counter(['account'])
  private readonly refreshFailures = new Counter(['account'])
  private readonly cooldowns = new Counter(['account', 'reason'])
  private readonly upstreamDuration = new Histogram(['account'], DURATION_BUCKETS)
  private readonly upstreamFirstByte = new Histogram(['account'], FIRST_BYTE_BUCKETS)
  private readonly lastRefreshedToken = new Map<string, string | undefined>()
  private readonly countedErrors = new WeakSet<object>()

  constructor(now: number) {
    this.startedAt = now
  }

  request(outcome: RequestOutcome): void {
    const account = outcome.accountId ?? 'none'
    this.requests.add([outcome.route, outcome.protocol, account, String(outcome.status)], 1)
    if (outcome.promptTokens > 0) this.inputTokens.add([account], outcome.promptTokens)
    if (outcome.completionTokens > 0) this.outputTokens.add([account], outcome.completionTokens)
  }

  /** An answer relayed to the client: time to its first byte and to its end, from the upstream request. */
  upstreamAnswer(accountId: string, firstByteMs: number, totalMs: number): void {
    this.upstreamFirstByte.observe([accountId], firstByteMs / 1000)
    this.upstreamDuration.observe([accountId], totalMs / 1000)
  }

  /** A request moved on from this account to the next. */
  failover(accountId: string): void {
    this.failovers.add([accountId], 1)
  }

  /**
   * A request was handed a refreshed OAuth token, or a refresh failed. Requests that wait on one
   * refresh together get the same token (or the same error): it counts once.
   */
  refreshed(accountId: string, token: string | undefined): void {
    if (this.lastRefreshedToken.get(accountId) === token) return
    this.lastRefreshedToken.set(accountId, token)
    this.refreshes.add([accountId], 1)
  }

  refreshFailed(accountId: string, error: unknown): void {
    if (error && typeof error === 'object') {
      if (this.countedErrors.has(error)) return
      this.countedErrors.add(error)
    }
    this.refreshFailures.add([accountId], 1)
  }

  cooldown(accountId: string, reason: 'quota' | 'rate_limit'): void {
    this.cooldowns.add([accountId, reason], 1)
  }

  /** The exposition: the counters above, and the accounts as they are now. */
  render(accounts: readonly AccountView[], now: number): string {
    const out = new PrometheusText()
    out.family('qwenauth_build_info', 'gauge', 'The running qwenauth version').sample('qwenauth_build_info', [['version', VERSION]], 1)
    out.family('process_start_time_seconds', 'gauge', 'When this serve started, in seconds since the epoch').sample('process_start_time_seconds', [], this.startedAt / 1000)
    this.requests.write(out, 'qwenauth_requests_total', 'Requests answered, by route, client protocol, account that served (none: no account did) and status')
    this.inputTokens.write(out, 'qwenauth_input_tokens_total', 'Prompt (input) tokens the upstream reported, by account')
    this.outputTokens.write(out, 'qwenauth_output_tokens_total', 'Completion (output) tokens the upstream reported, by account')
    this.upstreamDuration.write(out, 'qwenauth_upstream_duration_seconds', 'From sending a request upstream to the last byte of the answer relayed to the client')
    this.upstreamFirstByte.write(out, 'qwenauth_upstream_first_byte_seconds', 'From sending a request upstream to the first byte of its answer (a stream: its first event)')
    this.failovers.write(out, 'qwenauth_failovers_total', 'Requests that moved on from this account to the next one')
    this.refreshes.write(out, 'qwenauth_token_refreshes_total', 'OAuth tokens refreshed while serving, by account')
    this.refreshFailures.write(out, 'qwenauth_token_refresh_failures_total', 'OAuth token refreshes that failed while serving, by account')
    this.cooldowns.write(out, 'qwenauth_cooldowns_total', 'Times an account was put to rest after a 429 (reason: quota or rate_limit)')
    writeAccounts(out, accounts, now)
    return out.toString()
  }
}

function writeAccounts(out: PrometheusText, accounts: readonly AccountView[], now: number): void {
  const byStatus = new Map<AccountStatus, number>(STATUSES.map((s) => [s, 0]))
  for (const a of accounts) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1)
  out.family('qwenauth_accounts', 'gauge', 'Accounts in the pool by status')
  for (const [status, count] of byStatus) out.sample('qwenauth_accounts', [['status', status]], count)
  if (accounts.length === 0) return
  out.family('qwenauth_account_info', 'gauge', 'One series per account: its position in pool order (1 = active), kind, provider and status')
  accounts.forEach((a, i) =>
    out.sample('qwenauth_account_info', [['account', a.id], ['position', String(i + 1)], ['kind', a.kind], ['provider', a.provider], ['status', a.status]], 1),
  )
  out.family('qwenauth_account_cooldown_seconds', 'gauge', 'Seconds until a cooling-down account serves again (0: not cooling down)')
  for (const a of accounts) out.sample('qwenauth_account_cooldown_seconds', [['account', a.id]], a.cooldownUntil ? Math.max(0, (a.cooldownUntil - now) / 1000) : 0)
  const windows = accounts.flatMap((a) => usageLines(a).map((u) => ({ account: a.id, ...u })))
  if (windows.length === 0) return
  const labels = (u: { account: string; window: string; unit: string }): Labels => [['account', u.account], ['window', u.window], ['unit', u.unit]]
  out.family('qwenauth_account_usage', 'gauge', "Usage counted in a plan's window (requests or tokens, as the plan counts them)")
  for (const u of windows) out.sample('qwenauth_account_usage', labels(u), u.used)
  out.family('qwenauth_account_usage_limit', 'gauge', "The plan's limit for that window")
  for (const u of windows) if (u.limit !== null) out.sample('qwenauth_account_usage_limit', labels(u), u.limit)
  out.family('qwenauth_account_usage_resets_timestamp_seconds', 'gauge', 'When that window resets, in seconds since the epoch')
  for (const u of windows) if (u.resetsAt !== null) out.sample('qwenauth_account_usage_resets_timestamp_seconds', labels(u), u.resetsAt / 1000)
}


/** A counter by label values; the key joins them with a character no label value holds. */
class Counter {
  private readonly series = new Map<string, { labels: string[]; value: number }>()

  constructor(private readonly names: readonly string[]) {}

  add(labels: string[], by: number): void {
    const key = labels.join('\u0000')
    const entry = this.series.get(key)
    if (entry) entry.value += by
    else this.series.set(key, { labels, value: by })
  }

  write(out: PrometheusText, name: string, help: string): void {
    out.family(name, 'counter', help)
    for (const { labels, value } of this.series.values()) out.sample(name, zip(this.names, labels), value)
  }
}

class Histogram {
  private readonly series = new Map<string, { labels: string[]; counts: number[]; sum: number; count: number }>()

  constructor(
    private readonly names: readonly string[],
    private readonly bounds: readonly number[],
  ) {}

  observe(labels: string[], value: number): void {
    const key = labels.join('\u0000')
    let entry = this.series.get(key)
    if (!entry) this.series.set(key, (entry = { labels, counts: this.bounds.map(() => 0), sum: 0, count: 0 }))
    const bucket = this.bounds.findIndex((bound) => value <= bound)
    if (bucket !== -1) entry.counts[bucket]!++
    entry.sum += value
    entry.count++
  }

  write(out: PrometheusText, name: string, help: string): void {
    out.family(name, 'histogram', help)
    for (const s of this.series.values()) out.histogram(name, zip(this.names, s.labels), this.bounds, s.counts, s.sum, s.count)
  }
}

function zip(names: readonly string[], values: readonly string[]): Labels {
  return names.map((name, i) => [name, values[i] ?? ''] as const)
}
