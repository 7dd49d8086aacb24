/**
 * `status --provider-usage`: what a provider reports about a key itself (OpenRouter's
 * `GET /api/v1/key`: credits, limit, free tier), beside qwenauth's own counts; providers that do
 * not report it say so.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fetchProviderUsage } from '../src/auth/api-key/provider-usage.ts'
import { runInProcess } from './helpers/in-process.ts'
import { addKeyAccount, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

describe("the providers' own usage figures", () => {
  it('status --provider-usage shows what OpenRouter reports beside our counts, in the table and in --json', async () => {
    fx = await proxyFixture()
    const router = await addKeyAccount(fx, 'sk-or-v1-report-0000000000', 'openrouter-0001', { provider: 'openrouter' })
    fx.emu.setKeyPlan(router.apiKey!, { kind: 'openrouter', freeTier: false, credits: { limit: 5, usage: 1.25 } })
    const plan = await addKeyAccount(fx, 'sk-sp-noreport-0000000000', 'coding-plan-0001', { provider: 'coding-plan' })

    const json = await runInProcess(['status', '--json', '--provider-usage'], { home: fx.home })
    expect(json.code, json.stderr).toBe(0)
    const entries = (JSON.parse(json.stdout) as { accounts: Array<{ id: string; providerUsage: unknown }> }).accounts
    expect(entries.map((e) => [e.id, e.providerUsage])).toEqual([
      [router.id, { reported: { freeTier: false, limit: 5, used: 1.25, remaining: 3.75, usedToday: 1.25, usedThisWeek: 1.25, usedThisMonth: 1.25, limitReset: null } }],
      [plan.id, { notReported: 'coding-plan does not report usage over its API' }],
    ])
    expect(fx.emu.requests.map((r) => [r.method, r.path, r.auth])).toEqual([['GET', '/v1/key', router.apiKey]])
    for (const output of [json.stdout, json.stderr]) expect(output).not.toContain('sk-or-v1-report')

    const table = await runInProcess(['status', '--provider-usage'], { home: fx.home })
    expect(table.stdout).toContain("The providers' own figures:")
    expect(table.stdout).toContain(`  ${router.id}: credits bought; 1.25 of 5 credits used (3.75 left); today 1.25, this week 1.25, this month 1.25`)
    expect(table.stdout).toContain(`  ${plan.id}: coding-plan does not report usage over its API`)

    // Without the flag nothing is asked.
    fx.emu.reset()
    expect((await runInProcess(['status'], { home: fx.home })).stdout).not.toContain("providers' own figures")
    expect(fx.emu.requests).toEqual([])
  })

  it('a free-tier key without a credit limit, and a key the provider refuses', async () => {
    fx = await proxyFixture()
    const free = await addKeyAccount(fx, 'sk-or-v1-free-0000000000', 'openrouter-0002', { provider: 'openrouter' })
    fx.emu.setKeyPlan(free.apiKey!, { kind: 'openrouter', credits: { limit: null, usage: 0 } })
    expect(await fetchProviderUsage(free)).toMatchObject({ reported: { freeTier: true, limit: null, used: 0 } })
    const refused = { ...free, apiKey: 'sk-or-v1-unknown-0000000000' }
    const answer = await fetchProviderUsage(refused)
    expect(answer).toEqual({ error: `GET ${fx.emu.url}/v1/key answered 401: invalid access token or token expired` })
  })
})
