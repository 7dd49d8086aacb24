/**
 * An account that cannot pay for requests: OpenRouter's 402 for a key out of credits, DashScope's
 * 400 `Arrearage` for an account with an overdue payment. Another account of the pool may serve,
 * so the request moves on, and the account rests like after a spent quota (a trial request tries
 * it again once that is over) instead of taking every request first.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Account } from '../src/store/account-model.ts'
import type { KeyPlan } from './fixtures/emulator/types.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

const CASES: Array<[string, Partial<Account>, KeyPlan, RegExp]> = [
  ['an OpenRouter key out of credits (402)', { provider: 'openrouter' }, { kind: 'openrouter', credits: { limit: 5, usage: 5 } }, /out of credits \(402: Insufficient credits/],
  ['a DashScope account in arrears (400 Arrearage)', { provider: 'dashscope' }, { kind: 'dashscope', inArrears: true }, /out of credits \(400: Access denied, please make sure your account is in good standing\.\)/],
]

describe('an account that cannot pay', () => {
  it.each(CASES)('%s: the next account answers, and it rests', async (_name, fields, plan, reason) => {
    fx = await proxyFixture()
    const unpaid = await addKeyAccount(fx, 'sk-unpaid-0123456789', 'unpaid-1', { label: 'unpaid', ...fields })
    fx.emu.setKeyPlan(unpaid.apiKey!, plan)
    const paid = await addKeyAccount(fx, 'sk-paid-0123456789', 'paid-1', { label: 'paid' })
    const lines: string[] = []
    const app = proxyApp(fx, { lines })

    const first = await app.fetch(chatRequest({}))
    expect(first.status, await first.clone().text()).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([unpaid.apiKey, paid.apiKey])
    expect(lines.join('\n')).toMatch(reason)

    // Resting: the next request goes to the account that pays, without asking the other first.
    const second = await app.fetch(chatRequest({}))
    expect(second.status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([unpaid.apiKey, paid.apiKey, paid.apiKey])
    await app.close()
    const stored = (await fx.ctx.accounts.read()).accounts.find((a) => a.id === unpaid.id)
    expect(stored?.status).toBe('cooling-down')
    expect(stored?.cooldownUntil).toBeGreaterThan(Date.now() + 25 * 60_000)
    expect(stored?.lastError?.message).toMatch(reason)
  })

  it('with no other account, the client hears what the provider said, as a spent quota with its Retry-After', async () => {
    fx = await proxyFixture()
    const unpaid = await addKeyAccount(fx, 'sk-unpaid-0123456789', 'unpaid-1', { label: 'unpaid', provider: 'openrouter' })
    fx.emu.setKeyPlan(unpaid.apiKey!, { kind: 'openrouter', credits: { limit: 5, usage: 5 } })
    const res = await proxyApp(fx).fetch(chatRequest({}))
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(25 * 60)
    const { error } = (await res.json()) as { error: { code: string; message: string } }
    expect(error.code).toBe('insufficient_quota')
    expect(error.message).toMatch(/out of credits \(402: Insufficient credits/)
  })

  it('an OpenRouter 402 for a max_tokens larger than the credits left pay for is the request’s: passed on, and the account still serves a smaller one', async () => {
    fx = await proxyFixture()
    const lowOnCredit = await addKeyAccount(fx, 'sk-low-0123456789', 'low-1', { label: 'low' })
    fx.emu.setKeyPlan(lowOnCredit.apiKey!, { kind: 'openrouter', affordsTokens: 3000 })
    const app = proxyApp(fx)
    const large = await app.fetch(chatRequest({ max_tokens: 32000 }))
    // The client hears what to change (as Claude Code, opencode and qwen-code show it).
    expect(large.status).toBe(402)
    expect(((await large.json()) as { error: { message: string } }).error.message).toMatch(/fewer max_tokens.*can only afford 3000/)
    const small = await app.fetch(chatRequest({ max_tokens: 1000 }))
    expect(small.status, await small.clone().text()).toBe(200)
    await app.close()
    expect((await fx.ctx.accounts.read()).accounts.map((a) => a.status)).toEqual(['ok'])
  })

  it('any other 400 is the client’s: passed on as it came, no other account tried, nothing marked', async () => {
    fx = await proxyFixture()
    const first = await addKeyAccount(fx, 'sk-first-0123456789', 'first-1', { label: 'first' })
    await addKeyAccount(fx, 'sk-second-0123456789', 'second-1', { label: 'second' })
    const res = await proxyApp(fx).fetch(chatRequest({ messages: 'not a list' }))
    expect(res.status).toBe(400)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([first.apiKey])
    expect((await fx.ctx.accounts.read()).accounts.map((a) => a.status)).toEqual(['ok', 'ok'])
  })
})
