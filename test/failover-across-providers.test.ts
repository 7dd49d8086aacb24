/**
 * A request that fails over from one provider to another names a model the second knows, and
 * whatever an upstream said about an account is shown only redacted, by every view.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import type { Account } from '../src/store/account-model.ts'
import { runInProcess } from './helpers/in-process.ts'
import { chatRequest, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

/** An OpenRouter account (its alias table) whose key the emulator says is out of quota, first in the pool. */
async function spentOpenRouterFirst(fixture: ProxyFixture): Promise<Account> {
  const key = 'sk-or-spent-0123456789'
  fixture.emu.addApiKey(key, 'quota')
  const now = Date.now()
  const openrouter: Account = { id: 'openrouter-1a2b', label: 'openrouter', kind: 'api-key', provider: 'openrouter', baseUrl: `${fixture.emu.url}/v1`, apiKey: key, status: 'ok', createdAt: now, updatedAt: now }
  await fixture.ctx.accounts.update((doc) => void (doc.accounts = [openrouter, ...doc.accounts]))
  return openrouter
}

describe('a model name after failover', () => {
  it("an OpenRouter name a client sends reaches Qwen OAuth as that account's own name", async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'oauth@example.com')
    await spentOpenRouterFirst(fx)
    const res = await proxyApp(fx).fetch(chatRequest({ model: 'qwen/qwen3-coder' }))
    expect(res.status, await res.clone().text()).toBe(200)
    expect(fx.emu.requests.map((r) => (r.body as { model: string }).model)).toEqual(['qwen/qwen3-coder', 'coder-model'])
  })

  it('exec hands the child the neutral name, which every account the proxy fails over to maps to its own', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'oauth@example.com')
    await spentOpenRouterFirst(fx)
    const child = `
      const r = await fetch(process.env.OPENAI_BASE_URL + '/chat/completions', { method: 'POST', headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ model: process.env.OPENAI_MODEL, messages: [{ role: 'user', content: 'hi' }] }) })
      ;(await import('node:fs')).writeFileSync(process.argv[1], process.env.OPENAI_MODEL + ' ' + r.status)`
    // In this process: the child shares the test's stdout, so it writes what it saw to a file.
    const out = join(fx.home, 'child-output')
    const result = await runInProcess(['exec', '--', process.execPath, '--input-type=module', '-e', child, out], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url } })
    expect(result.code, result.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe('coder-model 200')
    // The OpenRouter account was tried first under its own name, then Qwen OAuth under its own.
    expect(fx.emu.requests.map((r) => (r.body as { model: string }).model)).toEqual(['qwen/qwen3-coder', 'coder-model'])
  })
})

describe('what an upstream said about an account', () => {
  let echo: Server | undefined
  afterEach(() => new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve())))

  it('/health (with the key) shows a refused refresh without the refresh token the OAuth server repeated', async () => {
    fx = await proxyFixture()
    const login = await loginAs(fx, 'echo@example.com')
    // An OAuth server that repeats the refresh token in its refusal.
    echo = createServer((req, res) => {
      let body = ''
      req.on('data', (d: Buffer) => (body += d.toString()))
      req.on('end', () => {
        const token = new URLSearchParams(body).get('refresh_token')
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'invalid_request', error_description: `Invalid refresh token ${token}` }))
      })
    })
    await new Promise<void>((resolve) => echo?.listen(0, '127.0.0.1', resolve))
    const ctx = createContext({ QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` })
    await ctx.accounts.update((doc) => void Object.assign(doc.accounts[0] as Account, { expiresAt: Date.now() - 1000 }))
    await expect(ctx.accounts.fresh(login.id)).rejects.toThrow(/needs a new login/)
    const stored = (await ctx.accounts.read()).accounts[0]
    expect(stored?.status).toBe('needs-login')
    expect(stored?.lastError?.message).toMatch(/Invalid refresh token \[redacted\]/)

    const app = proxyApp(fx, { apiKeys: ['client-key-0123456789'] })
    const health = await app.fetch(new Request('http://127.0.0.1:8787/health', { headers: { authorization: 'Bearer client-key-0123456789' } }))
    const text = await health.text()
    expect(text).toContain('Invalid refresh token')
    expect(text).not.toContain(login.refreshToken)
    const status = await runInProcess(['status', '--json'], { home: fx.home })
    expect(status.stdout).toContain('Invalid refresh token')
    expect(status.stdout).not.toContain(login.refreshToken)
  })
})
