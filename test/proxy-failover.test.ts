import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { effectiveStatus } from '../src/store/account-model.ts'
import { addKeyAccount, chatRequest, loginAs, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(async () => {
  await fx?.cleanup()
})

/** Two OAuth accounts, `a` active. */
async function twoAccounts(): Promise<{ a: string; b: string; tokenA: string; tokenB: string }> {
  const b = await loginAs(fx, 'b@example.com')
  const a = await loginAs(fx, 'a@example.com')
  return { a: a.id, b: b.id, tokenA: a.accessToken ?? '', tokenB: b.accessToken ?? '' }
}

const stored = async (id: string) => (await fx.ctx.accounts.read()).accounts.find((x) => x.id === id)

describe('failover', () => {
  it('serves a quota-exhausted account\'s request with the next account, and cools the first down', async () => {
    fx = await proxyFixture()
    const { a, tokenA, tokenB } = await twoAccounts()
    fx.emu.setUserState('a@example.com', 'quota')
    const lines: string[] = []
    const app = proxyApp(fx, { lines })

    const res = await app.fetch(chatRequest({}))
    expect(res.status).toBe(200)
    expect(fx.emu.requests.map((r) => [r.auth, r.status])).toEqual([[tokenA, 429], [tokenB, 200]])
    expect(lines[0]).toMatch(/^POST \/v1\/chat\/completions b@example\.com 200 .*failed over from a@example\.com: quota exhausted/)

    // The next request goes straight to b: a rests for the default 30 minutes, and that is stored.
    fx.emu.reset()
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([tokenB])
    await waitFor(async () => (await stored(a))?.status === 'cooling-down', 3000, 'the stored cooldown')
    const until = (await stored(a))?.cooldownUntil ?? 0
    expect(until - Date.now()).toBeGreaterThan(29 * 60_000)
    expect((await stored(a))?.lastError?.code).toBe('insufficient_quota')
  })

  it('fails over from a quota-exhausted OAuth account to an API-key account, and back once the cooldown ends', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'oauth@example.com')
    const key = await addKeyAccount(fx, 'sk-emulator-key-123456')
    fx.emu.setUserState('oauth@example.com', 'quota')
    // The proxy's own clock: the cooldown ends when the test says, not after a real wait.
    let clock = Date.now()
    const app = proxyApp(fx, { quotaCooldownMs: 400, now: () => clock })

    const first = await app.fetch(chatRequest({ max_tokens: 200_000 }))
    expect(first.status).toBe(200)
    const [refused, served] = fx.emu.requests
    expect(refused?.auth).toBe(oauth.accessToken)
    expect(refused?.headers['x-dashscope-authtype']).toBe('qwen-oauth')
    expect(served?.auth).toBe(key.apiKey)
    // Key accounts get no DashScope headers, and the output cap still applies.
    expect(served?.headers['x-dashscope-authtype']).toBeUndefined()
    expect(served?.headers['user-agent']).toMatch(/^qwenauth\//)
    expect((served?.body as { max_tokens: number }).max_tokens).toBe(65_536)

    fx.emu.setUserState('oauth@example.com', 'ok')
    fx.emu.reset()
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([key.apiKey])

    clock += 450
    fx.emu.reset()
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([oauth.accessToken])
    // Serving again clears the run-out cooldown in the store.
    await waitFor(async () => (await stored(oauth.id))?.status === 'ok', 3000, 'status ok again')
  })

  it('refreshes once on a 401 and retries the same account', async () => {
    fx = await proxyFixture()
    const { a, tokenA } = await twoAccounts()
    fx.emu.expireAccessTokens('a@example.com')
    const app = proxyApp(fx)

    const res = await app.fetch(chatRequest({}))
    expect(res.status).toBe(200)
    expect(fx.emu.stats.refreshes).toBe(1)
    const fresh = (await stored(a))?.accessToken
    expect(fresh).not.toBe(tokenA)
    expect(fx.emu.requests.map((r) => [r.auth, r.status])).toEqual([[tokenA, 401], [fresh, 200]])
    expect((await stored(a))?.status).toBe('ok')
  })

  it('marks an account whose 401 survives a fresh refresh as not-served, says why, and fails over', async () => {
    fx = await proxyFixture()
    const { a, tokenB } = await twoAccounts()
    fx.emu.setUserState('a@example.com', 'not-served')
    const app = proxyApp(fx)

    const res = await app.fetch(chatRequest({}))
    expect(res.status).toBe(200)
    expect(fx.emu.stats.refreshes).toBe(1)
    expect(fx.emu.requests.map((r) => r.status)).toEqual([401, 401, 200])
    expect(fx.emu.requests[2]?.auth).toBe(tokenB)
    await app.close()
    const account = await stored(a)
    expect(account?.status).toBe('not-served')
    expect(account?.lastError?.message).toMatch(/ended the free OAuth tier on 2026-04-15/)
    expect(account?.lastError?.message).toMatch(/qwenauth login --provider/)

    // Alone, a not-served account gets a 403 that says what to do, without trying it again: a
    // client does not retry a 403 in vain (it would a 503, for minutes).
    await fx.ctx.accounts.update((doc) => void (doc.accounts = doc.accounts.filter((x) => x.id === a)))
    fx.emu.reset()
    const alone = await proxyApp(fx).fetch(chatRequest({}))
    expect(alone.status).toBe(403)
    const body = (await alone.json()) as { error: { message: string; code: string; type: string } }
    expect(body.error.code).toBe('no_usable_account')
    expect(body.error.type).toBe('permission_error')
    expect(body.error.message).toMatch(/a@example\.com .*not served: Qwen ended the free OAuth tier on 2026-04-15/)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('answers 429 with Retry-After at the earliest cooldown end when every account is cooling down', async () => {
    fx = await proxyFixture()
    const { a, b } = await twoAccounts()
    fx.emu.setUserState('a@example.com', 'quota')
    fx.emu.setUserState('b@example.com', 'quota')
    const app = proxyApp(fx, { quotaCooldownMs: 90_000 })

    const res = await app.fetch(chatRequest({}))
    expect(res.status).toBe(429)
    const retryAfter = Number(res.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(85)
    expect(retryAfter).toBeLessThanOrEqual(90)
    const body = (await res.json()) as { error: { message: string; type: string; code: string } }
    expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' })
    expect(body.error.message).toContain(`a@example.com (${a}): cooling down`)
    expect(body.error.message).toContain(`b@example.com (${b}): cooling down`)
    expect(body.error.message).toMatch(/qwenauth login --provider/)
    expect(fx.emu.requests).toHaveLength(2)

    // Nothing is sent upstream while both rest.
    fx.emu.reset()
    expect((await app.fetch(chatRequest({}))).status).toBe(429)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('honours the Retry-After of a 429 that is not about quota', async () => {
    fx = await proxyFixture()
    // The emulator has no plain rate limit, so a small upstream of our own plays one.
    const limiter = createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' })
      res.end(JSON.stringify({ error: { message: 'Requests rate limit exceeded', type: 'rate_limit_error', code: 'rate_limit_exceeded' } }))
    })
    await new Promise<void>((resolve) => limiter.listen(0, '127.0.0.1', resolve))
    try {
      const key = await addKeyAccount(fx, 'sk-limited-key-000000')
      await fx.ctx.accounts.update((doc) => void Object.assign(doc.accounts[0] ?? {}, { baseUrl: `http://127.0.0.1:${(limiter.address() as AddressInfo).port}/v1` }))
      const res = await proxyApp(fx).fetch(chatRequest({}))
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(6)
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(7)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe('rate_limit_exceeded')
      expect(body.error.message).toContain(`custom key ${key.id} (${key.id}): cooling down for 0:07 after rate limited`)
    } finally {
      limiter.closeAllConnections()
      await new Promise((r) => limiter.close(r))
    }
  })

  it('retries a 5xx or a stream broken before its first byte on the next account, a bounded number of times', async () => {
    fx = await proxyFixture()
    const { tokenB } = await twoAccounts()
    const app = proxyApp(fx)
    fx.emu.failNextRequests(1, 502)
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.status)).toEqual([502, 200])

    fx.emu.reset()
    fx.emu.breakNextStream(0)
    const streamed = await app.fetch(chatRequest({ stream: true }))
    expect(streamed.status).toBe(200)
    expect(await streamed.text()).toContain('data: [DONE]')
    expect(fx.emu.requests[1]?.auth).toBe(tokenB)

    fx.emu.reset()
    fx.emu.failNextRequests(10, 500)
    const failed = await app.fetch(chatRequest({}))
    expect(failed.status).toBe(502)
    expect(((await failed.json()) as { error: { message: string } }).error.message).toMatch(/a@example\.com .*upstream error 500.*b@example\.com .*upstream error 500/)
    expect(fx.emu.requests).toHaveLength(2)
    // Transient failures do not take accounts out of the pool.
    expect((await fx.ctx.accounts.read()).accounts.every((x) => effectiveStatus(x) === 'ok')).toBe(true)
  })

  it('treats a 400 or 403 whose body is cut off as a failure before the answer: the next account serves, and alone the client gets a 502 in OpenAI\'s shape, never an empty 400', async () => {
    fx = await proxyFixture()
    const { tokenB } = await twoAccounts()
    const app = proxyApp(fx)
    fx.emu.cutNextErrorBodies(1, 400)
    const served = await app.fetch(chatRequest({}))
    expect(served.status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth).at(-1)).toBe(tokenB)

    fx.emu.reset()
    fx.emu.cutNextErrorBodies(10, 403)
    const failed = await app.fetch(chatRequest({}))
    expect(failed.status).toBe(502)
    const { error } = (await failed.json()) as { error: { code: string; message: string } }
    expect(error.code).toBe('upstream_error')
    expect(error.message).toMatch(/a@example\.com .*failed before answering.*b@example\.com .*failed before answering/)
  })

  it('ends a stream that breaks after its first byte with an error event, without retrying', async () => {
    fx = await proxyFixture()
    await twoAccounts()
    fx.emu.breakNextStream(2)
    const lines: string[] = []
    const res = await proxyApp(fx, { lines }).fetch(chatRequest({ stream: true }))
    expect(res.status).toBe(200)
    const text = await res.text()
    const events = text.split('\n\n').filter(Boolean)
    expect(events).toHaveLength(3)
    expect(JSON.parse(events[2]?.replace(/^data: /, '') ?? '')).toMatchObject({ error: { type: 'server_error', code: 'upstream_stream_error' } })
    expect(text).not.toContain('[DONE]')
    expect(fx.emu.requests).toHaveLength(1)
    expect(lines[0]).toMatch(/ 200 .*stream broke/)
  })

  it('fails over when the upstream does not start answering within the connect timeout', async () => {
    fx = await proxyFixture()
    const { tokenB } = await twoAccounts()
    fx.emu.delayNextResponse(1000)
    const res = await proxyApp(fx, { connectTimeoutMs: 150 }).fetch(chatRequest({ stream: true }))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('[DONE]')
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([expect.any(String), tokenB])
    await waitFor(() => fx.emu.requests[0]?.aborted === true, 2000, 'the timed-out request to be aborted')
  })

  it('ends a stream whose upstream goes silent past the idle timeout with an error event', async () => {
    fx = await proxyFixture({ streamDelayMs: 400 })
    await twoAccounts()
    const res = await proxyApp(fx, { idleTimeoutMs: 150 }).fetch(chatRequest({ stream: true }))
    const text = await res.text()
    expect(text).toMatch(/"code":"upstream_stream_error"/)
    expect(text).toMatch(/went silent/)
    expect(fx.emu.requests).toHaveLength(1)
    await waitFor(() => fx.emu.abortedRequests === 1, 2000, 'the silent request to be aborted')
  })

  it('rotates accounts with round-robin', async () => {
    fx = await proxyFixture()
    const { tokenA, tokenB } = await twoAccounts()
    const app = proxyApp(fx, { strategy: 'round-robin' })
    for (let i = 0; i < 4; i++) expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([tokenA, tokenB, tokenA, tokenB])
  })

  it('sees a cooldown another process stored within the pool refresh interval', async () => {
    fx = await proxyFixture()
    const { a, b, tokenB } = await twoAccounts()
    let clock = Date.now()
    const app = proxyApp(fx, { poolRefreshMs: 200, now: () => clock })
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    await fx.ctx.accounts.update((doc) => {
      const acc = doc.accounts.find((x) => x.id === a)
      if (acc) Object.assign(acc, { status: 'cooling-down', cooldownUntil: Date.now() + 60_000 })
    })
    // Past the refresh interval on the proxy's own clock: its next request reads the store again.
    clock += 250
    fx.emu.reset()
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.map((r) => r.auth)).toEqual([tokenB])
    expect((await proxyApp(fx).fetch(chatRequest({}))).status).toBe(200)
    expect(fx.emu.requests.at(-1)?.auth).toBe(tokenB)
    expect(b).not.toBe(a)
  })
})
