/**
 * How long an account rests after a 429: the window the provider names (the Coding Plan's
 * week to Monday 00:00 UTC+8, its month to the subscription day, OpenRouter's day to 00:00 UTC),
 * the provider's own Retry-After or reset time, the oldest request counted in a spent 5-hour
 * window, and the documented defaults. Tables for the rules, then the emulator with the clock
 * injected.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { classify429, resetHeaderAt, restAfter429, type RestInput } from '../src/proxy/cooldowns.ts'
import type { Account } from '../src/store/account-model.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
/** Wednesday 2026-11-04 12:00 UTC (20:00 in Beijing). */
const WED = Date.UTC(2026, 10, 4, 12)
/** Monday 2026-11-09 00:00 UTC+8. */
const NEXT_MONDAY_UTC8 = Date.UTC(2026, 10, 8, 16)
const AGENT = { 'user-agent': 'QwenCode/0.25.0 (linux; x64)' }
/** What the emulator serves besides Qwen OAuth's models: the plans' and OpenRouter's names. */
const PLAN_MODELS = ['qwen3.5-plus', 'qwen3.6-plus', 'qwen/qwen3-coder']

describe('what a 429 says', () => {
  it.each<[string | undefined, string, boolean, string | undefined]>([
    ['insufficient_quota', 'hour allocated quota exceeded.', true, '5h'],
    ['insufficient_quota', 'week allocated quota exceeded.', true, 'week'],
    ['insufficient_quota', 'month allocated quota exceeded.', true, 'month'],
    ['insufficient_quota', 'Free allocated quota exceeded.', true, undefined],
    [undefined, 'Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day', true, 'day'],
    [undefined, 'Rate limit exceeded: free-models-per-day-high-balance.', true, 'day'],
    [undefined, 'Rate limit exceeded: free-models-per-min.', false, 'minute'],
    ['rate_limit_exceeded', 'Requests rate limit exceeded, please try again later.', false, undefined],
  ])('%s %j: quota %s, window %s', (code, message, quota, window) => {
    expect(classify429(code, message)).toEqual({ quota, window })
  })
})

describe('how long an account rests', () => {
  const settings = { quotaCooldownMs: 30 * MINUTE, rateLimitCooldownMs: MINUTE, quotaWindowCooldownMs: { '5h': 15 * MINUTE, month: 24 * HOUR } }
  const beijing = { utcOffsetMinutes: 480, monthResetDay: 1 }
  const input = (message: string, fields: Partial<RestInput> = {}): RestInput => ({
    refusal: classify429(undefined, message),
    now: WED,
    retryAfterMs: undefined,
    resetAt: undefined,
    clock: beijing,
    resetDayKnown: false,
    rollingFreeAt: undefined,
    ...fields,
  })

  it.each<[string, RestInput, number, RegExp]>([
    ['a spent week rests until Monday 00:00 UTC+8, not 30 minutes', input('week allocated quota exceeded'), NEXT_MONDAY_UTC8, /weekly window resets \(Mon 2026-11-09 00:00 UTC\+8\)/],
    ['a spent week on a Sunday evening in Beijing', input('week allocated quota exceeded', { now: Date.UTC(2026, 10, 8, 15) }), NEXT_MONDAY_UTC8, /weekly/],
    ['a spent month with the reset day set rests until that day', input('month allocated quota exceeded', { clock: { utcOffsetMinutes: 480, monthResetDay: 15 }, resetDayKnown: true }), Date.UTC(2026, 10, 14, 16), /monthly window resets \(Sun 2026-11-15 00:00 UTC\+8\)/],
    ['a reset day of 31 in a 30-day month is its last day', input('month allocated quota exceeded', { clock: { utcOffsetMinutes: 480, monthResetDay: 31 }, resetDayKnown: true }), Date.UTC(2026, 10, 29, 16), /monthly/],
    ['a spent month without a reset day rests the documented 24 h', input('month allocated quota exceeded'), WED + 24 * HOUR, /reset day is not set/],
    ['a spent 5 hours rests until the oldest request counted leaves the window', input('hour allocated quota exceeded', { rollingFreeAt: WED + 2 * HOUR }), WED + 2 * HOUR, /oldest request counted/],
    ['a spent 5 hours with nothing counted rests the documented 15 min', input('hour allocated quota exceeded'), WED + 15 * MINUTE, /nothing counted/],
    ["OpenRouter's spent day rests until 00:00 UTC", input('Rate limit exceeded: free-models-per-day.', { clock: { utcOffsetMinutes: 0, monthResetDay: 1 } }), Date.UTC(2026, 10, 5), /daily window resets \(Thu 2026-11-05 00:00 UTC\)/],
    ["the provider's reset time wins over the window", input('Rate limit exceeded: free-models-per-day.', { resetAt: WED + 3 * HOUR }), WED + 3 * HOUR, /provider's reset time/],
    ["the provider's Retry-After wins over the window, a quota's too", input('week allocated quota exceeded', { retryAfterMs: 120_000 }), WED + 120_000, /Retry-After/],
    ['Retry-After: 0 still rests a second', input('Requests rate limit exceeded', { retryAfterMs: 0 }), WED + 1000, /Retry-After/],
    ['a reset time already past is no reset time', input('Requests rate limit exceeded', { resetAt: WED - 1 }), WED + MINUTE, /for 1:00/],
    ['a quota that names no window rests 30 min', input('Free allocated quota exceeded.'), WED + 30 * MINUTE, /for 30:00/],
    ['a rate limit without Retry-After rests a minute', input('Requests rate limit exceeded'), WED + MINUTE, /for 1:00/],
  ])('%s', (_name, given, until, rule) => {
    const rest = restAfter429(given, settings)
    expect(rest.until).toBe(until)
    expect(rest.rule).toMatch(rule)
  })

  it.each<[string | null, number | undefined]>([
    [null, undefined],
    [String(WED + 5000), WED + 5000],
    [String(Math.floor((WED + 5000) / 1000)), WED + 5000],
    ['30', WED + 30_000],
    ['soon', undefined],
  ])('a reset header %j is %s', (value, expected) => {
    expect(resetHeaderAt(value, WED)).toBe(expected)
  })
})

describe('a spent window against the emulator, with the clock injected', () => {
  let fx: ProxyFixture
  let clock = WED
  const now = () => clock
  afterEach(() => fx.cleanup())

  /** A Coding Plan key (the emulator's windows and gate) first, a plain key second. */
  async function codingPlanFirst(limits: { '5h'?: number; week?: number; month?: number }, fields: Partial<Account> = {}, subscriptionDay?: number): Promise<{ plan: Account; spare: Account }> {
    const plan = await addKeyAccount(fx, 'sk-sp-plan-key-0000000000', 'coding-plan-0001', { provider: 'coding-plan', label: 'plan', ...fields })
    fx.emu.setKeyPlan(plan.apiKey!, { kind: 'coding-plan', limits, ...(subscriptionDay ? { subscriptionDay } : {}) })
    const spare = await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
    return { plan, spare }
  }
  const stored = async (id: string) => (await fx.ctx.accounts.read()).accounts.find((a) => a.id === id)
  const served = (key: string | undefined) => fx.emu.requests.filter((r) => r.auth === key).map((r) => r.status)

  it('a spent weekly quota rests until Monday 00:00 UTC+8, and one request tries it then (it was retried every 30 minutes)', async () => {
    clock = WED
    fx = await proxyFixture({ now, extraModels: PLAN_MODELS })
    const { plan, spare } = await codingPlanFirst({ week: 2 })
    const app = proxyApp(fx, { now })
    for (let i = 0; i < 3; i++) expect((await app.fetch(chatRequest({}, { headers: AGENT }))).status).toBe(200)
    expect(served(plan.apiKey)).toEqual([200, 200, 429])
    expect(served(spare.apiKey)).toEqual([200])
    await app.close()
    const rested = await stored(plan.id)
    expect(rested?.cooldownUntil).toBe(NEXT_MONDAY_UTC8)
    expect(rested?.lastError?.message).toMatch(/quota exhausted \(week allocated quota exceeded\.\); resting until the weekly window resets \(Mon 2026-11-09 00:00 UTC\+8\)/)

    // 31 minutes, then two days on: the plan is not asked again before its week turns.
    fx.emu.reset()
    const later = proxyApp(fx, { now })
    for (const step of [31 * MINUTE, 2 * 24 * HOUR]) {
      clock += step
      expect((await later.fetch(chatRequest({}, { headers: AGENT }))).status).toBe(200)
    }
    expect(served(plan.apiKey)).toEqual([])
    clock = NEXT_MONDAY_UTC8 + 1000
    expect((await later.fetch(chatRequest({}, { headers: AGENT }))).status).toBe(200)
    expect(served(plan.apiKey)).toEqual([200])
    await later.close()
    expect((await stored(plan.id))?.status).toBe('ok')
  })

  it('a spent 5-hour window rests until the oldest request counted in it leaves it', async () => {
    clock = WED
    fx = await proxyFixture({ now, extraModels: PLAN_MODELS })
    const { plan } = await codingPlanFirst({ '5h': 2 })
    const app = proxyApp(fx, { now })
    for (const step of [0, HOUR, HOUR]) {
      clock += step
      expect((await app.fetch(chatRequest({}, { headers: AGENT }))).status).toBe(200)
    }
    expect(served(plan.apiKey)).toEqual([200, 200, 429])
    await app.close()
    // The first request was counted in the 5 minutes from WED: it leaves the window 5 h after them.
    expect((await stored(plan.id))?.cooldownUntil).toBe(WED + 5 * MINUTE + 5 * HOUR)
    expect((await stored(plan.id))?.lastError?.message).toMatch(/hour allocated quota exceeded\.\); resting until the oldest request counted/)
  })

  it('a spent month rests until the reset day set for the account, or the documented 24 h without one', async () => {
    clock = Date.UTC(2026, 10, 20, 4)
    fx = await proxyFixture({ now, extraModels: PLAN_MODELS })
    const { plan } = await codingPlanFirst({ month: 1 }, { quotaResetDay: 15 }, 15)
    const app = proxyApp(fx, { now })
    for (let i = 0; i < 2; i++) expect((await app.fetch(chatRequest({}, { headers: AGENT }))).status).toBe(200)
    await app.close()
    expect((await stored(plan.id))?.cooldownUntil).toBe(Date.UTC(2026, 11, 14, 16))

    await fx.ctx.accounts.update((doc) => {
      const a = doc.accounts.find((x) => x.id === plan.id)!
      Object.assign(a, { status: 'ok' })
      delete a.quotaResetDay
      delete a.cooldownUntil
    })
    const again = proxyApp(fx, { now })
    expect((await again.fetch(chatRequest({}, { headers: AGENT }))).status).toBe(200)
    await again.close()
    expect((await stored(plan.id))?.cooldownUntil).toBe(clock + 24 * HOUR)
  })

  it("OpenRouter's spent day rests until the reset time its error carries", async () => {
    clock = WED
    fx = await proxyFixture({ now, extraModels: PLAN_MODELS })
    const router = await addKeyAccount(fx, 'sk-or-v1-free-0000000000', 'openrouter-0001', { provider: 'openrouter' })
    fx.emu.setKeyPlan(router.apiKey!, { kind: 'openrouter', limits: { day: 1 } })
    await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
    const app = proxyApp(fx, { now })
    for (let i = 0; i < 2; i++) expect((await app.fetch(chatRequest({ model: 'qwen3-coder-plus' }))).status).toBe(200)
    await app.close()
    expect(served(router.apiKey)).toEqual([200, 429])
    expect((await stored(router.id))?.cooldownUntil).toBe(Date.UTC(2026, 10, 5))
    expect((await stored(router.id))?.lastError?.message).toMatch(/free-models-per-day.*resting until the provider's reset time/)
  })

  it("a provider's Retry-After wins over the window it names", async () => {
    clock = WED
    fx = await proxyFixture({ now, extraModels: PLAN_MODELS })
    let upstream: Server | undefined
    try {
      upstream = createServer((_req, res) => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '120' })
        res.end(JSON.stringify({ error: { message: 'week allocated quota exceeded.', type: 'insufficient_quota', code: 'insufficient_quota' } }))
      })
      await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve))
      const plan = await addKeyAccount(fx, 'sk-sp-other-0000000000', 'coding-plan-0002', { provider: 'coding-plan', baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1` })
      const res = await proxyApp(fx, { now }).fetch(chatRequest({}))
      expect(res.status).toBe(429)
      expect(res.headers.get('retry-after')).toBe('120')
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('insufficient_quota')
      await fx.apps[0]?.close()
      expect((await stored(plan.id))?.cooldownUntil).toBe(WED + 120_000)
    } finally {
      upstream?.closeAllConnections()
      await new Promise((r) => upstream?.close(r))
    }
  })
})
