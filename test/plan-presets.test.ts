/**
 * The plans' presets as they are today: the Token Plan, and default models picked at login from
 * what the key lists (the Coding Plan's newest qwenX-plus), with the preset's choice only as a
 * fallback, and `coder-model` going to the picked model.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { runKeyLogin } from '../src/auth/api-key/login.ts'
import { findProvider, pickDefaultModel, PROVIDERS, resolveProvider } from '../src/auth/api-key/providers.ts'
import { logger } from '../src/lib/logger.ts'
import { clientModel, upstreamModel } from '../src/pool/model-map.ts'
import type { Account } from '../src/store/account-model.ts'
import { proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

describe('the Token Plan preset', () => {
  it('is the Token Plan base in Beijing, its key in BAILIAN_TOKEN_PLAN_API_KEY, of the Alibaba family', () => {
    expect(resolveProvider('token-plan')).toMatchObject({ provider: 'token-plan', baseUrl: 'https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1' })
    expect(findProvider('token-plan')).toMatchObject({ keyEnv: 'BAILIAN_TOKEN_PLAN_API_KEY', family: 'alibaba', quotaUtcOffsetMinutes: 480 })
    // No international Token Plan endpoint is documented, so there is no preset for one.
    expect(PROVIDERS.map((p) => p.name).filter((n) => n.startsWith('token-plan'))).toEqual(['token-plan'])
  })
})

describe('the default model from what the key lists', () => {
  const codingPlan = findProvider('coding-plan')!
  const openrouter = findProvider('openrouter')!
  it.each<[string, typeof codingPlan, string[], { model: string; picked: boolean; listed: boolean }]>([
    ['the newest qwenX-plus of a Pro key', codingPlan, ['qwen3-coder-plus', 'qwen3.5-plus', 'qwen3.6-plus', 'qwen3-max-2026-01-23', 'glm-5'], { model: 'qwen3.6-plus', picked: true, listed: true }],
    ['a Lite key without qwen3.6-plus', codingPlan, ['qwen3-coder-plus', 'qwen3.5-plus'], { model: 'qwen3.5-plus', picked: false, listed: true }],
    ['a future version wins by number, not by text', codingPlan, ['qwen3.10-plus', 'qwen3.9-plus'], { model: 'qwen3.10-plus', picked: true, listed: true }],
    ['nothing matching: the preset default, flagged as not listed', codingPlan, ['glm-5', 'kimi-k2.5'], { model: 'qwen3.5-plus', picked: false, listed: false }],
    ['an empty listing: the preset default', codingPlan, [], { model: 'qwen3.5-plus', picked: false, listed: true }],
    ['a preset without a pattern keeps its default when listed', openrouter, ['qwen/qwen3-coder', 'qwen/qwen3.6-plus'], { model: 'qwen/qwen3-coder', picked: false, listed: true }],
  ])('%s', (_name, preset, listed, expected) => {
    expect(pickDefaultModel(preset, listed)).toEqual(expected)
  })

  const account = (fields: Partial<Account>): Account => ({ id: 'x', label: 'x', kind: 'api-key', provider: 'coding-plan', baseUrl: 'https://x/v1', apiKey: 'k', status: 'ok', createdAt: 0, updatedAt: 0, ...fields })
  const picked = account({ model: 'qwen3.6-plus', aliases: { 'coder-model': 'qwen3.6-plus' } })

  it.each<[string, Account, string | undefined, string]>([
    ['coder-model goes to the picked model', picked, 'coder-model', 'qwen3.6-plus'],
    ['no model: the picked model', picked, undefined, 'qwen3.6-plus'],
    ['a model of the plan asked for by name passes', picked, 'qwen3.5-plus', 'qwen3.5-plus'],
    ["DashScope's name passes on a Coding Plan account (one family)", picked, 'qwen3-coder-plus', 'qwen3-coder-plus'],
    ["OpenRouter's coder goes to the picked model", picked, 'qwen/qwen3-coder', 'qwen3.6-plus'],
    ['a Coding Plan account without a pick: the preset fallback', account({}), 'coder-model', 'qwen3.5-plus'],
    ["the plan's model on DashScope passes (one family)", account({ provider: 'dashscope' }), 'qwen3.5-plus', 'qwen3.5-plus'],
    ["the plan's model on OpenRouter becomes its coder", account({ provider: 'openrouter' }), 'qwen3.5-plus', 'qwen/qwen3-coder'],
  ])('%s', (_name, target, requested, expected) => {
    expect(upstreamModel(target, requested)).toBe(expected)
  })

  it('exec hands the child the neutral name of the picked model', () => {
    expect(clientModel(picked)).toBe('coder-model')
  })
})

describe('login asks the provider for its models', () => {
  let fx: ProxyFixture
  /** Where the preset's requests go instead of its real host, which is out of reach. */
  let planHost = ''
  const KEY = 'sk-sp-login-key-0000000000'
  beforeEach(async () => {
    fx = await proxyFixture({ apiKeys: [KEY], extraModels: ['qwen3.5-plus', 'qwen3.6-plus'] })
    planHost = fx.emu.url
    process.env.QWENAUTH_TEST_PLAN_KEY = KEY
    const realFetch = globalThis.fetch
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      const url = String(input instanceof Request ? input.url : input).replace('https://coding.dashscope.aliyuncs.com/v1', `${planHost}/v1`)
      return realFetch(url, init)
    })
  })
  afterEach(async () => {
    vi.restoreAllMocks()
    delete process.env.QWENAUTH_TEST_PLAN_KEY
    await fx.cleanup()
  })

  it('a Coding Plan key gets the newest model it lists, stored, with coder-model mapped to it', async () => {
    const { account } = await runKeyLogin(fx.ctx, { provider: 'coding-plan', apiKeyEnv: 'QWENAUTH_TEST_PLAN_KEY', verify: true })
    expect(fx.emu.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models'])
    expect(account).toMatchObject({ provider: 'coding-plan', baseUrl: 'https://coding.dashscope.aliyuncs.com/v1', model: 'qwen3.6-plus', aliases: { 'coder-model': 'qwen3.6-plus' } })
  })

  it("a key check the plan's gate refuses (qwenauth is no coding agent) still saves the key, with the fallback model", async () => {
    const gate = createServer((_req, res) => {
      res.writeHead(405, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: 'Coding Plan is currently only available for Coding Agents' }))
    })
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve))
    const info = vi.spyOn(logger, 'info')
    try {
      planHost = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`
      const { account } = await runKeyLogin(fx.ctx, { provider: 'coding-plan', apiKeyEnv: 'QWENAUTH_TEST_PLAN_KEY', verify: true })
      expect(account).toMatchObject({ provider: 'coding-plan' })
      expect(account.model).toBeUndefined()
      expect(info.mock.calls.map((c) => String(c[0])).join('\n')).toContain('the provider serves coding agents only and would not list its models to qwenauth')
    } finally {
      gate.closeAllConnections()
      await new Promise((r) => gate.close(r))
    }
  })

  it('--no-verify asks nothing and keeps the preset fallback from the table; --model wins', async () => {
    const unchecked = await runKeyLogin(fx.ctx, { provider: 'coding-plan', apiKeyEnv: 'QWENAUTH_TEST_PLAN_KEY', verify: false })
    expect(fx.emu.requests).toEqual([])
    expect(unchecked.account.model).toBeUndefined()
    expect(upstreamModel(unchecked.account, undefined)).toBe('qwen3.5-plus')
    const named = await runKeyLogin(fx.ctx, { provider: 'coding-plan', apiKeyEnv: 'QWENAUTH_TEST_PLAN_KEY', verify: true, model: 'qwen3-coder-plus' })
    expect(named.account).toMatchObject({ model: 'qwen3-coder-plus', aliases: { 'coder-model': 'qwen3-coder-plus' } })
    expect(clientModel(named.account)).toBe('coder-model')
    expect(upstreamModel(named.account, 'coder-model')).toBe('qwen3-coder-plus')
  })
})
