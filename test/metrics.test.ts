import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format'
import { afterEach, describe, expect, it } from 'vitest'
import type { AccountView } from '../src/pool/account-view.ts'
import { ProxyMetrics } from '../src/proxy/metrics.ts'
import { PrometheusText } from '../src/proxy/prometheus-text.ts'
import { expireStoredTokens } from './helpers/accounts.ts'
import { addKeyAccount, chatRequest, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const KEY = 'sk-client-key-metrics-1111'
let fx: ProxyFixture
afterEach(async () => {
  await fx?.cleanup()
})

/**
 * The exposition read by a real parser (parse-prometheus-text-format, a port of the Prometheus
 * Python client's): it throws on any malformed line. It folds a histogram's series into one and
 * drops their labels, so histograms are read a second time untyped, each `_bucket`, `_sum` and
 * `_count` series with its labels.
 */
function parse(text: string): Map<string, ParsedFamily> {
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]))
  const histograms = [...families.values()].filter((f) => f.type === 'HISTOGRAM').map((f) => f.name)
  if (histograms.length === 0) return families
  const untyped = text.replace(/^# TYPE (\S+) histogram$/gm, '')
  for (const f of parsePrometheusTextFormat(untyped)) if (histograms.some((h) => f.name.startsWith(`${h}_`))) families.set(f.name, f)
  return families
}

/** The value of one series, 0 when it is not there (yet). */
function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const series = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return Number(series?.value ?? 0)
}

async function scrape(fetcher: { fetch(r: Request): Promise<Response> }, key: string | undefined = KEY): Promise<Map<string, ParsedFamily>> {
  const res = await fetcher.fetch(new Request('http://127.0.0.1:8787/metrics', key ? { headers: { authorization: `Bearer ${key}` } } : {}))
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  return parse(await res.text())
}

describe('the Prometheus text format', () => {
  it('escapes label values and help, writes infinities and cumulative histogram buckets, and a parser reads it back', () => {
    const text = new PrometheusText()
      .family('odd_total', 'counter', 'help with a \\ backslash\nand a line break')
      .sample('odd_total', [['path', 'C:\\dir\\"quoted"\nnext line'], ['empty', '']], 3)
      .family('edge', 'gauge', 'edges')
      .sample('edge', [['which', 'inf']], Infinity)
      .sample('edge', [['which', '-inf']], -Infinity)
      .sample('edge', [['which', 'nan']], NaN)
      .sample('edge', [['which', 'small']], 1.5e-7)
      .family('latency_seconds', 'histogram', 'a histogram')
      .histogram('latency_seconds', [['account', 'a']], [0.1, 1], [2, 1], 1.75, 4)
      .toString()
    const families = parse(text)
    expect(families.get('odd_total')?.help).toBe('help with a \\ backslash\nand a line break')
    expect(families.get('odd_total')?.metrics[0]).toEqual({ labels: { path: 'C:\\dir\\"quoted"\nnext line', empty: '' }, value: '3' })
    expect(families.get('edge')?.metrics.map((m) => m.value)).toEqual(['+Inf', '-Inf', 'NaN', '1.5e-7'])
    expect(families.get('latency_seconds')?.type).toBe('HISTOGRAM')
    expect(families.get('latency_seconds_bucket')?.metrics.map((m) => [m.labels?.le, m.value])).toEqual([['0.1', '2'], ['1', '3'], ['+Inf', '4']])
    expect(value(families, 'latency_seconds_sum', { account: 'a' })).toBe(1.75)
    expect(value(families, 'latency_seconds_count', { account: 'a' })).toBe(4)
    expect(text.endsWith('\n')).toBe(true)
  })

  it('reports usage against limits from the account views: requests of counted or limited windows, tokens where limited', () => {
    const metrics = new ProxyMetrics(Date.now())
    const resetsAt = Date.UTC(2026, 10, 30, 12)
    const empty = { requests: 0, tokens: 0, resetsAt: null, limits: {} }
    const usage = (windows: Partial<AccountView['usage']> = {}): AccountView['usage'] => ({ minute: empty, '5h': empty, day: empty, week: empty, month: empty, ...windows })
    const view = (id: string, windows?: Partial<AccountView['usage']>): AccountView => ({
      id,
      label: id,
      provider: 'coding-plan',
      kind: 'api-key',
      active: false,
      status: 'ok',
      expiresAt: null,
      cooldownUntil: null,
      atLimit: false,
      keyHint: null,
      baseUrl: '',
      model: 'qwen3.6-plus',
      userAgent: null,
      quotaResetDay: null,
      lastError: null,
      stats: null,
      usage: usage(windows),
    })
    const without = parse(metrics.render([view('a'), view('b')], Date.now()))
    expect(without.has('qwenauth_account_usage')).toBe(false)
    const withUsage = parse(
      metrics.render(
        [
          view('a', {
            '5h': { requests: 120, tokens: 5000, resetsAt, limits: { requests: 1200 } },
            month: { requests: 9, tokens: 800, resetsAt: null, limits: { tokens: 1_000_000 } },
          }),
          view('b'),
        ],
        Date.now(),
      ),
    )
    expect(value(withUsage, 'qwenauth_account_usage', { account: 'a', window: '5h', unit: 'requests' })).toBe(120)
    expect(value(withUsage, 'qwenauth_account_usage_limit', { account: 'a', window: '5h', unit: 'requests' })).toBe(1200)
    expect(value(withUsage, 'qwenauth_account_usage_resets_timestamp_seconds', { account: 'a', window: '5h', unit: 'requests' })).toBe(resetsAt / 1000)
    expect(value(withUsage, 'qwenauth_account_usage', { account: 'a', window: 'month', unit: 'requests' })).toBe(9)
    expect(value(withUsage, 'qwenauth_account_usage', { account: 'a', window: 'month', unit: 'tokens' })).toBe(800)
    expect(value(withUsage, 'qwenauth_account_usage_limit', { account: 'a', window: 'month', unit: 'tokens' })).toBe(1_000_000)
    expect(withUsage.get('qwenauth_account_usage_limit')?.metrics).toHaveLength(2)
    expect(withUsage.get('qwenauth_account_usage')?.metrics).toHaveLength(3)
  })
})

describe('GET /metrics', () => {
  it('counters move as requests are made: requests, tokens, upstream histograms, failovers, cooldowns, accounts by status', async () => {
    fx = await proxyFixture()
    const keyAccount = await addKeyAccount(fx, 'sk-upstream-key-metrics-2222')
    const oauth = await loginAs(fx, 'metrics@example.com')
    const app = proxyApp(fx, { apiKeys: [KEY] })
    const before = await scrape(app)
    expect(value(before, 'qwenauth_accounts', { status: 'ok' })).toBe(2)
    expect(value(before, 'qwenauth_requests_total')).toBe(0)
    expect(value(before, 'qwenauth_account_info', { account: oauth.id, position: '1', kind: 'qwen-oauth', provider: 'qwen-oauth', status: 'ok' })).toBe(1)

    const chat = { route: '/v1/chat/completions', protocol: 'openai', account: oauth.id, status: '200' }
    expect((await app.fetch(chatRequest({}, { key: KEY }))).status).toBe(200)
    const streamed = await app.fetch(chatRequest({ stream: true, stream_options: { include_usage: true } }, { key: KEY }))
    await streamed.text()
    const one = await scrape(app)
    expect(value(one, 'qwenauth_requests_total', chat)).toBe(2)
    const tokensIn = value(one, 'qwenauth_input_tokens_total', { account: oauth.id })
    expect(tokensIn).toBeGreaterThan(0)
    expect(value(one, 'qwenauth_output_tokens_total', { account: oauth.id })).toBeGreaterThan(0)
    expect(value(one, 'qwenauth_upstream_duration_seconds_count', { account: oauth.id })).toBe(2)
    expect(value(one, 'qwenauth_upstream_first_byte_seconds_count', { account: oauth.id })).toBe(2)
    expect(value(one, 'qwenauth_upstream_duration_seconds_sum', { account: oauth.id })).toBeGreaterThan(0)
    expect(value(one, 'qwenauth_upstream_duration_seconds_bucket', { account: oauth.id, le: '+Inf' })).toBe(2)
    // Scrapes are not client traffic.
    expect(one.get('qwenauth_requests_total')?.metrics).toHaveLength(1)

    fx.emu.setUserState('metrics@example.com', 'quota')
    expect((await app.fetch(chatRequest({}, { key: KEY }))).status).toBe(200)
    expect((await app.fetch(new Request('http://127.0.0.1:8787/v1/nope', { headers: { authorization: `Bearer ${KEY}` } }))).status).toBe(404)
    expect((await app.fetch(chatRequest({}, { key: 'sk-wrong-key-000000' }))).status).toBe(401)
    const two = await scrape(app)
    expect(value(two, 'qwenauth_requests_total', chat)).toBe(2)
    expect(value(two, 'qwenauth_requests_total', { ...chat, account: keyAccount.id })).toBe(1)
    expect(value(two, 'qwenauth_requests_total', { route: 'unknown', protocol: '-', account: 'none', status: '404' })).toBe(1)
    expect(value(two, 'qwenauth_requests_total', { route: '/v1/chat/completions', account: 'none', status: '401' })).toBe(1)
    expect(value(two, 'qwenauth_failovers_total', { account: oauth.id })).toBe(1)
    expect(value(two, 'qwenauth_cooldowns_total', { account: oauth.id, reason: 'quota' })).toBe(1)
    expect(value(two, 'qwenauth_input_tokens_total', { account: oauth.id })).toBe(tokensIn)
    expect(value(two, 'qwenauth_accounts', { status: 'cooling-down' })).toBe(1)
    expect(value(two, 'qwenauth_account_cooldown_seconds', { account: oauth.id })).toBeGreaterThan(1700)
    expect(value(two, 'qwenauth_account_cooldown_seconds', { account: keyAccount.id })).toBe(0)
  })

  it('counts token refreshes once per refresh, and refresh failures', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'refresh@example.com')
    const app = proxyApp(fx, { apiKeys: [KEY], poolRefreshMs: 0 })
    expireStoredTokens(fx.home)
    fx.emu.expireAccessTokens()
    const answers = await Promise.all([1, 2, 3].map(() => app.fetch(chatRequest({}, { key: KEY }))))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200])
    const refreshed = await scrape(app)
    expect(value(refreshed, 'qwenauth_token_refreshes_total', { account: oauth.id })).toBe(1)
    expect(value(refreshed, 'qwenauth_token_refresh_failures_total', { account: oauth.id })).toBe(0)

    expireStoredTokens(fx.home)
    // A refresh the OAuth server refuses outright (no retries to wait through).
    fx.emu.failNextRefreshes(1, 400)
    expect((await app.fetch(chatRequest({}, { key: KEY }))).status).toBe(403)
    const failed = await scrape(app)
    expect(value(failed, 'qwenauth_token_refresh_failures_total', { account: oauth.id })).toBe(1)
    expect(value(failed, 'qwenauth_token_refreshes_total', { account: oauth.id })).toBe(1)
  })

  it('needs the client key unless --metrics-public', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'guarded@example.com')
    const guarded = proxyApp(fx, { apiKeys: [KEY] })
    const refused = await guarded.fetch(new Request('http://127.0.0.1:8787/metrics'))
    expect(refused.status).toBe(401)
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key')
    expect((await guarded.fetch(new Request('http://127.0.0.1:8787/metrics', { headers: { authorization: 'Bearer sk-wrong-0000000' } }))).status).toBe(401)
    const open = proxyApp(fx, { apiKeys: [KEY], metricsPublic: true })
    expect(value(await scrape(open, undefined), 'qwenauth_accounts', { status: 'ok' })).toBe(1)
    // The key still guards everything else.
    expect((await open.fetch(chatRequest({}))).status).toBe(401)
  })
})
