/**
 * Usage counted in the quota windows (from `serve` and `exec` alike, into the store, bounded),
 * and limits that pass an account over before the provider refuses it, freed as the windows
 * turn (the clock injected).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { accountViews } from '../src/pool/account-view.ts'
import { AccountPool } from '../src/pool/pool.ts'
import { readStats } from '../src/store/stats.ts'
import { isStale, usageDelta, windowUsage, type QuotaWindow } from '../src/store/usage-windows.ts'
import { runInProcess } from './helpers/in-process.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** Wednesday 2026-11-04 12:00 UTC (20:00 in Beijing). */
const WED = Date.UTC(2026, 10, 4, 12)

describe('usage windows', () => {
  const beijing = { utcOffsetMinutes: 480, monthResetDay: 1 }
  const at = (times: number[], clock = beijing) => {
    const usage: Record<string, number> = {}
    for (const t of times) for (const [k, n] of Object.entries(usageDelta(clock, t, 10))) usage[k] = (usage[k] ?? 0) + n
    return usage
  }
  // Mon 2 Nov 08:00 UTC+8 (in this week), Sun 1 Nov 20:00 UTC+8 (last week, this month), 31 Oct (last month), 3 h ago.
  const times = [Date.UTC(2026, 10, 2, 0), Date.UTC(2026, 10, 1, 12), Date.UTC(2026, 9, 31, 12), WED - 3 * HOUR, WED - 10 * MINUTE]

  it.each<[QuotaWindow, number, number | null]>([
    ['minute', 0, WED + MINUTE],
    ['5h', 2, WED - 3 * HOUR + 5 * MINUTE + 5 * HOUR],
    ['day', 2, Date.UTC(2026, 10, 4, 16)],
    ['week', 3, Date.UTC(2026, 10, 8, 16)],
    ['month', 4, Date.UTC(2026, 10, 30, 16)],
  ])('%s: %s requests, the count goes down at %s', (window, requests, resetsAt) => {
    expect(windowUsage(at(times), window, beijing, WED)).toEqual({ requests, tokens: requests * 10, resetsAt })
  })

  it('a month from a reset day, and the calendar of another zone', () => {
    expect(windowUsage(at(times), 'month', { utcOffsetMinutes: 480, monthResetDay: 1 }, WED).requests).toBe(4)
    expect(windowUsage(at(times, { utcOffsetMinutes: 480, monthResetDay: 2 }), 'month', { utcOffsetMinutes: 480, monthResetDay: 2 }, WED)).toMatchObject({ requests: 3, resetsAt: Date.UTC(2026, 11, 1, 16) })
    const utc = { utcOffsetMinutes: 0, monthResetDay: 1 }
    // Mon 2 Nov 00:00 UTC is in the week; Sun 1 Nov 12:00 UTC is not.
    expect(windowUsage(at(times, utc), 'week', utc, WED)).toMatchObject({ requests: 3, resetsAt: Date.UTC(2026, 10, 9) })
  })

  it.each<[string, boolean]>([
    [`m5.${Math.floor((WED - 5 * HOUR - 10 * MINUTE) / (5 * MINUTE))}.r`, true],
    [`m5.${Math.floor((WED - 5 * HOUR) / (5 * MINUTE))}.r`, false],
    [`min.${Math.floor(WED / MINUTE) - 2}.r`, true],
    [`min.${Math.floor(WED / MINUTE) - 1}.t`, false],
    [`d.${Math.floor(WED / DAY) - 34}.r`, true],
    [`d.${Math.floor(WED / DAY) - 32}.r`, false],
    ['junk', true],
  ])('bucket %s is stale: %s', (key, stale) => {
    expect(isStale(key, WED)).toBe(stale)
  })
})

describe('limits against the emulator, with the clock injected', () => {
  let fx: ProxyFixture
  let clock = WED
  const now = () => clock
  afterEach(() => fx.cleanup())

  const servedBy = (key: string | undefined) => fx.emu.requests.filter((r) => r.auth === key).map((r) => r.status)

  it('an account at its 5-hour limit is passed over before any 429, and serves again as the window frees', async () => {
    clock = WED
    fx = await proxyFixture({ now })
    const capped = await addKeyAccount(fx, 'sk-capped-key-0000000000', 'capped-0001', { limits: [{ window: '5h', unit: 'requests', max: 2 }] })
    const spare = await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
    const app = proxyApp(fx, { now })
    for (const step of [0, HOUR, HOUR]) {
      clock += step
      expect((await app.fetch(chatRequest({}))).status).toBe(200)
    }
    // The third went to the spare account: the capped one never got a request it would refuse.
    expect(servedBy(capped.apiKey)).toEqual([200, 200])
    expect(servedBy(spare.apiKey)).toEqual([200])

    const health = (await (await app.fetch(new Request('http://127.0.0.1:8787/health'))).json()) as { accounts: Record<string, number> }
    expect(health.accounts).toMatchObject({ ok: 1, 'cooling-down': 1 })
    await app.close()
    const view = accountViews((await fx.ctx.accounts.read()).accounts, await readStats(fx.ctx.storage), clock)[0]!
    expect(view).toMatchObject({ id: capped.id, status: 'cooling-down', atLimit: true, cooldownUntil: WED + 5 * MINUTE + 5 * HOUR })
    expect(view.usage['5h']).toMatchObject({ requests: 2, limits: { requests: 2 }, resetsAt: WED + 5 * MINUTE + 5 * HOUR })
    expect(view.lastError).toBe('2 requests in 5 hours (2 counted)')

    // The first request leaves the window: the capped account is first in line again.
    clock = WED + 5 * MINUTE + 5 * HOUR
    fx.emu.reset()
    const later = proxyApp(fx, { now })
    expect((await later.fetch(chatRequest({}))).status).toBe(200)
    expect(servedBy(capped.apiKey)).toEqual([200])
  })

  it('a weekly token limit holds the account until Monday 00:00 UTC+8; token and env hand out the next account meanwhile', async () => {
    clock = WED
    fx = await proxyFixture({ now, extraModels: ['qwen3.5-plus'] })
    const capped = await addKeyAccount(fx, 'sk-sp-capped-key-0000000000', 'coding-plan-cap1', { provider: 'coding-plan', limits: [{ window: 'week', unit: 'tokens', max: 20 }] })
    const spare = await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
    const app = proxyApp(fx, { now })
    // One answer counts well over 20 tokens (the emulator counts about one per four characters).
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect([servedBy(capped.apiKey).length, servedBy(spare.apiKey).length]).toEqual([1, 1])
    await app.close()

    const pool = new AccountPool(fx.ctx, { now })
    expect((await pool.handout()).id).toBe(spare.id)
    clock = Date.UTC(2026, 10, 8, 16)
    expect((await new AccountPool(fx.ctx, { now }).handout()).id).toBe(capped.id)
  })

  it('counters stay bounded: buckets that left every window are dropped as the file is written', async () => {
    clock = WED
    fx = await proxyFixture({ now })
    const key = await addKeyAccount(fx, 'sk-counted-key-0000000000', 'counted-0001')
    for (const step of [0, 10 * DAY, 20 * DAY, 40 * DAY]) {
      clock += step
      const app = proxyApp(fx, { now })
      expect((await app.fetch(chatRequest({}))).status).toBe(200)
      await app.close()
    }
    const usage = (await readStats(fx.ctx.storage))[key.id]?.usage ?? {}
    // Only the last request's buckets are left (minute, 5-minute and day, requests and tokens).
    expect(Object.keys(usage).sort()).toEqual(Object.keys(usageDelta({ utcOffsetMinutes: 0, monthResetDay: 1 }, clock, 1)).sort())
    expect((await readStats(fx.ctx.storage))[key.id]?.requests).toBe(4)
  })
})

describe('what is counted, and what status shows', () => {
  let fx: ProxyFixture
  afterEach(() => fx.cleanup())

  it('serve and exec count into the same windows; status shows usage against limits with a countdown, and --json', async () => {
    fx = await proxyFixture()
    const key = await addKeyAccount(fx, 'sk-exec-key-0000000000', 'exec-0001', { limits: [{ window: 'day', unit: 'requests', max: 100 }, { window: 'week', unit: 'tokens', max: 1_000_000 }] })
    const app = proxyApp(fx)
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    await app.close()

    const child = `for (let i = 0; i < 2; i++) { const r = await fetch(process.env.OPENAI_BASE_URL + '/chat/completions', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ model: process.env.OPENAI_MODEL, messages: [{ role: 'user', content: 'hi' }] }) }); if (r.status !== 200) process.exit(1) }`
    const exec = await runInProcess(['exec', '--', process.execPath, '--input-type=module', '-e', child], { home: fx.home })
    expect(exec.code, exec.stderr).toBe(0)

    const json = await runInProcess(['status', '--json'], { home: fx.home })
    expect(json.code, json.stderr).toBe(0)
    const entry = (JSON.parse(json.stdout) as { accounts: Array<{ id: string; model: string; usage: Record<string, { requests: number; tokens: number; limits: Record<string, number>; resetsAt: number | null }> }> }).accounts[0]!
    expect(entry.id).toBe(key.id)
    expect(entry.model).toBe('coder-model')
    for (const window of ['5h', 'day', 'week', 'month']) expect(entry.usage[window]?.requests).toBe(3)
    expect(entry.usage.day).toMatchObject({ limits: { requests: 100 } })
    expect(entry.usage.week?.limits).toEqual({ tokens: 1_000_000 })
    expect(entry.usage.week?.tokens).toBeGreaterThan(0)
    expect(entry.usage.day?.resetsAt).toBe(Math.floor(Date.now() / DAY) * DAY + DAY)

    const table = await runInProcess(['status'], { home: fx.home })
    expect(table.stdout).toMatch(/^#\s+ACTIVE\s+ID\s+LABEL\s+PROVIDER\s+MODEL\s+STATUS/m)
    expect(table.stdout).toContain('Usage: requests counted / your limit (time until the window frees up)')
    expect(table.stdout).toMatch(/^ID\s+5 HOURS\s+TODAY\s+WEEK\s+MONTH$/m)
    expect(table.stdout).toMatch(new RegExp(`^${key.id}\\s+3 \\([45]h\\d\\dm\\)\\s+3/100 \\([\\w:]+\\)\\s+3 \\d+/1\\.0M tok \\(\\w+\\)\\s+3 \\(\\w+\\)$`, 'm'))
    // Nothing of the raw buckets reaches the view.
    expect(readFileSync(join(fx.home, 'qwenauth', 'stats.json'), 'utf8')).toContain('"m5.')
    expect(json.stdout).not.toContain('"m5.')
  })
})
