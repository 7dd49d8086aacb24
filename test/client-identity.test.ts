/**
 * Who the provider sees: key accounts get the client's own User-Agent (or one the account's owner
 * fixed), Qwen OAuth keeps the official CLI's headers, and the Coding Plan's 405 for clients that
 * are not coding agents refuses that request only: failover, no mark, a clear answer.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { VERSION } from '../src/lib/version.ts'
import type { Account } from '../src/store/account-model.ts'
import { messagesRequest } from './helpers/anthropic-fixtures.ts'
import { runInProcess } from './helpers/in-process.ts'
import { addKeyAccount, chatRequest, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

const OPENCODE = 'opencode/1.18.33 ai-sdk/provider-utils/3.0.20 runtime/bun/1.3.1'
const CURL = 'curl/8.5.0'
const PLAN_MODELS = ['qwen3.5-plus', 'qwen3.6-plus']
const stored = async (id: string) => (await fx.ctx.accounts.read()).accounts.find((a) => a.id === id)

async function codingPlanKey(id = 'coding-plan-0001', fields: Partial<Account> = {}): Promise<Account> {
  const account = await addKeyAccount(fx, `sk-sp-${id}-000000000`, id, { provider: 'coding-plan', label: id, ...fields })
  fx.emu.setKeyPlan(account.apiKey!, { kind: 'coding-plan' })
  return account
}

describe('the User-Agent a provider sees', () => {
  it("a key account gets the client's own User-Agent, not qwenauth's (the Coding Plan refused every client behind qwenauth)", async () => {
    fx = await proxyFixture({ extraModels: PLAN_MODELS })
    const plan = await codingPlanKey()
    const res = await proxyApp(fx).fetch(chatRequest({}, { headers: { 'user-agent': OPENCODE } }))
    expect(res.status, await res.clone().text()).toBe(200)
    expect(fx.emu.requests.map((r) => [r.auth, r.headers['user-agent'], r.status])).toEqual([[plan.apiKey, OPENCODE, 200]])
  })

  it("an account whose owner fixed a User-Agent sends that one; a client that sends none gets qwenauth's name", async () => {
    fx = await proxyFixture()
    await addKeyAccount(fx, 'sk-fixed-ua-0000000000', 'fixed-0001', { userAgent: 'QwenCode/0.25.0 (linux; x64)' })
    expect((await proxyApp(fx).fetch(chatRequest({}, { headers: { 'user-agent': CURL } }))).status).toBe(200)
    await fx.ctx.accounts.update((doc) => void delete doc.accounts[0]!.userAgent)
    // chatRequest sends no User-Agent unless told to.
    expect((await proxyApp(fx).fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.headers['user-agent'])).toEqual(['QwenCode/0.25.0 (linux; x64)', `qwenauth/${VERSION}`])
  })

  it("Qwen OAuth keeps the official CLI's headers whatever the client sends", async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'oauth@example.com')
    expect((await proxyApp(fx).fetch(chatRequest({}, { headers: { 'user-agent': CURL } }))).status).toBe(200)
    const sent = fx.emu.requests[0]!.headers
    expect(sent['user-agent']).toMatch(/^QwenCode\/0\.24\.4 \(/)
    expect(sent['x-dashscope-useragent']).toBe(sent['user-agent'])
    expect(sent['x-dashscope-authtype']).toBe('qwen-oauth')
  })

  it("under exec the client is the user's agent: its User-Agent reaches the Coding Plan", async () => {
    fx = await proxyFixture({ extraModels: PLAN_MODELS })
    const plan = await codingPlanKey()
    const child = `
      const r = await fetch(process.env.OPENAI_BASE_URL + '/chat/completions', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY, 'content-type': 'application/json', 'user-agent': 'claude-cli/2.1.332 (external, cli)' }, body: JSON.stringify({ model: process.env.OPENAI_MODEL, messages: [{ role: 'user', content: 'hi' }] }) })
      ;(await import('node:fs')).writeFileSync(process.argv[1], String(r.status))`
    // In this process: the child shares the test's stdout, so it writes what it saw to a file.
    const out = join(fx.home, 'child-output')
    const result = await runInProcess(['exec', '--', process.execPath, '--input-type=module', '-e', child, out], { home: fx.home })
    expect(result.code, result.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe('200')
    expect(fx.emu.requests.map((r) => [r.auth, r.headers['user-agent'], (r.body as { model: string }).model])).toEqual([[plan.apiKey, 'claude-cli/2.1.332 (external, cli)', 'qwen3.5-plus']])
  })
})

describe("the Coding Plan's gate", () => {
  it('refuses the request, not the account: the next account serves it, nothing is marked, and agents still reach the plan', async () => {
    fx = await proxyFixture({ extraModels: PLAN_MODELS })
    const plan = await codingPlanKey()
    const spare = await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
    const lines: string[] = []
    const app = proxyApp(fx, { lines })
    const res = await app.fetch(chatRequest({}, { headers: { 'user-agent': CURL } }))
    expect(res.status).toBe(200)
    expect(fx.emu.requests.map((r) => [r.auth, r.status])).toEqual([[plan.apiKey, 405], [spare.apiKey, 200]])
    expect(lines[0]).toContain(`failed over from ${plan.label}: refused this client (User-Agent "${CURL}"): Coding Plan is currently only available for Coding Agents`)

    expect((await app.fetch(chatRequest({}, { headers: { 'user-agent': OPENCODE } }))).status).toBe(200)
    expect(fx.emu.requests.at(-1)?.auth).toBe(plan.apiKey)
    await app.close()
    expect(await stored(plan.id)).toMatchObject({ status: 'ok' })
    expect((await stored(plan.id))?.cooldownUntil).toBeUndefined()
  })

  it("gates the plan's Anthropic route too: Claude Code reaches it natively, an SDK's request goes to the next account", async () => {
    fx = await proxyFixture({ extraModels: PLAN_MODELS })
    const plan = await codingPlanKey('coding-plan-0001', { anthropicBaseUrl: `${fx.emu.url}/apps/anthropic` })
    const spare = await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
    const app = proxyApp(fx)
    const claude = await app.fetch(messagesRequest({}, { authorization: 'Bearer sk-client-key', 'user-agent': 'claude-cli/2.1.332 (external, cli)' }))
    expect(claude.status, await claude.clone().text()).toBe(200)
    const sdk = await app.fetch(messagesRequest({}, { authorization: 'Bearer sk-client-key', 'user-agent': 'Anthropic/JS 1.14.0' }))
    expect(sdk.status, await sdk.clone().text()).toBe(200)
    expect(((await sdk.json()) as { type: string }).type).toBe('message')
    expect(fx.emu.requests.map((r) => [r.path, r.auth, r.status])).toEqual([
      ['/apps/anthropic/v1/messages', plan.apiKey, 200],
      ['/apps/anthropic/v1/messages', plan.apiKey, 405],
      ['/v1/chat/completions', spare.apiKey, 200],
    ])
    await app.close()
    expect(await stored(plan.id)).toMatchObject({ status: 'ok' })
  })

  it('when no account takes the client, the answer names the gate and the User-Agent refused', async () => {
    fx = await proxyFixture({ extraModels: PLAN_MODELS })
    const first = await codingPlanKey('coding-plan-0001')
    const second = await codingPlanKey('coding-plan-0002')
    const res = await proxyApp(fx).fetch(chatRequest({}, { headers: { 'user-agent': CURL } }))
    expect(res.status).toBe(403)
    const error = ((await res.json()) as { error: { message: string; type: string; code: string } }).error
    expect(error).toMatchObject({ type: 'permission_error', code: 'client_not_served' })
    expect(error.message).toContain(`${first.label}, ${second.label} serve coding agents only and refused this client (User-Agent "${CURL}"): "Coding Plan is currently only available for Coding Agents"`)
    expect(error.message).toContain('`qwenauth edit <account> --user-agent')
    expect(fx.emu.requests.map((r) => r.status)).toEqual([405, 405])
  })

  it('a 405 that is not the gate reaches the client as it came, and nothing fails over', async () => {
    fx = await proxyFixture()
    const other = createServer((_req, res) => {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET' })
      res.end(JSON.stringify({ error: { message: 'Method Not Allowed', type: 'invalid_request_error' } }))
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      await addKeyAccount(fx, 'sk-plain-key-0000000000', 'plain-0001', { baseUrl: `http://127.0.0.1:${(other.address() as AddressInfo).port}/v1` })
      await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
      const res = await proxyApp(fx).fetch(chatRequest({}, { headers: { 'user-agent': CURL } }))
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('GET')
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe('Method Not Allowed')
      expect(fx.emu.requests).toEqual([])
    } finally {
      other.closeAllConnections()
      await new Promise((r) => other.close(r))
    }
  })
})
