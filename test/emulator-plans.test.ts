/**
 * The emulator's served plans, checked directly over HTTP so qwenauth's own tests can trust it:
 * the Coding Plan's gate and window texts, OpenRouter's limits and key report, and the requests
 * it counts per token.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'

const HOUR = 3_600_000
/** Wednesday 2026-11-04 12:00 UTC. */
const WED = Date.UTC(2026, 10, 4, 12)
const PLAN_KEY = 'sk-sp-emulated-0000000000'
const ROUTER_KEY = 'sk-or-v1-emulated-0000000000'

let emu: Emulator
let clock = WED
afterEach(() => emu.close())

async function chat(key: string, userAgent = 'QwenCode/0.25.0 (linux; x64)', body: Record<string, unknown> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${emu.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': userAgent },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }], ...body }),
  })
  return { status: res.status, json: await res.json(), headers: res.headers }
}

describe('the emulated Coding Plan', () => {
  it('answers clients that are not coding agents 405 with its bare error string; agents and GET /models pass', async () => {
    emu = await startEmulator({ apiKeys: [PLAN_KEY] })
    emu.setKeyPlan(PLAN_KEY, { kind: 'coding-plan' })
    for (const ua of ['curl/8.5.0', 'qwenauth/0.1.0', 'OpenAI/JS 6.49.0']) {
      const refused = await chat(PLAN_KEY, ua)
      expect([refused.status, refused.json]).toEqual([405, { error: 'Coding Plan is currently only available for Coding Agents' }])
    }
    for (const ua of ['QwenCode/0.25.0 (linux; x64)', 'claude-cli/2.1.332 (external, cli)', 'opencode/1.18.33']) expect((await chat(PLAN_KEY, ua)).status).toBe(200)
    const models = await fetch(`${emu.url}/v1/models`, { headers: { authorization: `Bearer ${PLAN_KEY}`, 'user-agent': 'curl/8.5.0' } })
    expect(models.status).toBe(200)
    expect(emu.servedCount(PLAN_KEY)).toBe(3)
  })

  it('names the spent window in its 429: hour (sliding 5 hours), week (from Monday 00:00 UTC+8), month (from the subscription day)', async () => {
    clock = WED
    emu = await startEmulator({ apiKeys: [PLAN_KEY], now: () => clock })
    emu.setKeyPlan(PLAN_KEY, { kind: 'coding-plan', limits: { '5h': 2, week: 3, month: 4 }, subscriptionDay: 20 })
    const said = async () => {
      const answer = await chat(PLAN_KEY)
      return answer.status === 200 ? 200 : answer.json.error.message
    }
    expect([await said(), await said(), await said()]).toEqual([200, 200, 'hour allocated quota exceeded.'])
    clock += 5 * HOUR
    expect([await said(), await said()]).toEqual([200, 'week allocated quota exceeded.'])
    // Monday 00:00 UTC+8: a new week, but the month (from the 20th of October) has its 4.
    clock = Date.UTC(2026, 10, 8, 16)
    expect([await said(), await said()]).toEqual([200, 'month allocated quota exceeded.'])
    clock = Date.UTC(2026, 10, 19, 16)
    expect(await said()).toBe(200)
    const spent = await chat(PLAN_KEY, 'QwenCode/0.25.0', { model: 'no-such-model' })
    expect(spent.status).toBe(404)
    expect(emu.servedCount(PLAN_KEY)).toBe(5)
  })
})

describe('emulated OpenRouter', () => {
  it('answers a spent minute or day 429 with the limit named and its reset in the metadata; GET /v1/key reports the key', async () => {
    clock = WED
    emu = await startEmulator({ apiKeys: [ROUTER_KEY, PLAN_KEY], now: () => clock })
    emu.setKeyPlan(ROUTER_KEY, { kind: 'openrouter', limits: { minute: 2, day: 3 }, credits: { limit: 10, usage: 2.5 } })
    expect([(await chat(ROUTER_KEY)).status, (await chat(ROUTER_KEY)).status]).toEqual([200, 200])
    const minute = await chat(ROUTER_KEY)
    expect(minute.status).toBe(429)
    expect(minute.json.error).toMatchObject({ message: 'Rate limit exceeded: free-models-per-min.', code: 429, metadata: { headers: { 'X-RateLimit-Limit': '2', 'X-RateLimit-Reset': String(WED + 60_000) } } })
    clock += 60_000
    expect((await chat(ROUTER_KEY)).status).toBe(200)
    const day = await chat(ROUTER_KEY)
    expect(day.json.error.message).toBe('Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day')
    expect(day.json.error.metadata.headers['X-RateLimit-Reset']).toBe(String(Date.UTC(2026, 10, 5)))

    const key = await fetch(`${emu.url}/v1/key`, { headers: { authorization: `Bearer ${ROUTER_KEY}` } })
    expect(((await key.json()) as { data: unknown }).data).toMatchObject({ limit: 10, usage: 2.5, limit_remaining: 7.5, is_free_tier: true })
    const other = await fetch(`${emu.url}/v1/key`, { headers: { authorization: `Bearer ${PLAN_KEY}` } })
    expect(other.status).toBe(404)
  })
})

describe('accounts that cannot pay', () => {
  it('OpenRouter answers a key whose credit limit is used up 402; DashScope answers an account in arrears 400 Arrearage', async () => {
    const DASHSCOPE_KEY = 'sk-emulated-dashscope-000000'
    emu = await startEmulator({ apiKeys: [ROUTER_KEY, DASHSCOPE_KEY] })
    emu.setKeyPlan(ROUTER_KEY, { kind: 'openrouter', credits: { limit: 5, usage: 5 } })
    const spent = await chat(ROUTER_KEY)
    expect([spent.status, spent.json.error.code]).toEqual([402, 402])
    expect(spent.json.error.message).toMatch(/^Insufficient credits/)
    emu.setKeyPlan(DASHSCOPE_KEY, { kind: 'dashscope', inArrears: true })
    const arrears = await chat(DASHSCOPE_KEY)
    expect([arrears.status, arrears.json.error.code, arrears.json.error.type]).toEqual([400, 'Arrearage', 'Arrearage'])
    emu.setKeyPlan(DASHSCOPE_KEY, { kind: 'dashscope', inArrears: false })
    expect((await chat(DASHSCOPE_KEY)).status).toBe(200)
    expect([emu.servedCount(ROUTER_KEY), emu.servedCount(DASHSCOPE_KEY)]).toEqual([0, 1])
  })

  it('OpenRouter answers a max_tokens beyond what the credits left pay for (the model’s 65536 when none) 402; a smaller one passes', async () => {
    emu = await startEmulator({ apiKeys: [ROUTER_KEY] })
    emu.setKeyPlan(ROUTER_KEY, { kind: 'openrouter', affordsTokens: 3000 })
    const unset = await chat(ROUTER_KEY)
    expect([unset.status, unset.json.error.code]).toEqual([402, 402])
    expect(unset.json.error.message).toMatch(/^This request requires more credits, or fewer max_tokens\. You requested up to 65536 tokens, but can only afford 3000\./)
    expect((await chat(ROUTER_KEY, undefined, { max_tokens: 3001 })).status).toBe(402)
    expect((await chat(ROUTER_KEY, undefined, { max_tokens: 3000 })).status).toBe(200)
    expect(emu.servedCount(ROUTER_KEY)).toBe(1)
  })
})
