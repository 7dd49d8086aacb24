/**
 * What a client gets when the upstream misbehaves: a refresh shared by concurrent requests
 * survives one of them leaving, an error that echoes the credential never passes it on, and a
 * 429 with Retry-After: 0 stays a 429 with a usable Retry-After.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readStats } from '../src/store/stats.ts'
import { chatRequest, loginAs, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { keyAccountAt as stubKeyAccount, stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo()
  await fx?.cleanup()
})

const upstream = (handler: Parameters<typeof stubUpstream>[0]) => stubUpstream(handler, cleanups)
const keyAccountAt = (baseUrl: string, apiKey: string, id: string) => stubKeyAccount(fx.ctx, baseUrl, apiKey, id)

describe('a token refresh shared by concurrent requests', () => {
  it('one client leaving during a refresh does not fail the requests waiting on the same refresh', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'shared@example.com')
    await fx.ctx.accounts.update((doc) => void Object.assign(doc.accounts[0] ?? {}, { expiresAt: Date.now() - 1000 }))
    fx.emu.setRefreshDelay(500)
    const app = proxyApp(fx)

    const leaving = new AbortController()
    const first = app.fetch(chatRequest({}, { signal: leaving.signal }))
    await waitFor(() => fx.emu.stats.refreshAttempts === 1, 2000, 'the refresh to start')
    const second = app.fetch(chatRequest({}))
    leaving.abort()

    expect((await first).status).toBe(499)
    const res = await second
    expect(res.status).toBe(200)
    expect(((await res.json()) as { choices: unknown[] }).choices).toHaveLength(1)
    // The refresh ran to its end once, for both, and was stored.
    expect(fx.emu.stats.refreshes).toBe(1)
    await app.close()
    const stats = await readStats(fx.ctx.storage)
    expect(Object.values(stats).map((s) => s.failures)).toEqual([0])
  })
})


describe('upstream errors that echo the credential', () => {
  // Keys shorter than 8 characters were never redacted (a 7-character one reached the log,
  // status, /health and stats.json); they are, where they stand alone (see lib/redact.ts).
  it.each([
    ['a long key', 'plain-upstream-key-0123456789'],
    ['a 7-character key', 'k7x9Qa2'],
    ['a 2-character key', 'q7'],
  ])('never pass %s on to the client, the log, /health, the counters or the stored account', async (_name, secret) => {
    fx = await proxyFixture()
    let status = 400
    const base = await upstream((req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      const sent = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      res.end(JSON.stringify({ error: { message: `rejected request with key=${sent}`, code: status === 429 ? 'insufficient_quota' : 'bad' } }))
    })
    await keyAccountAt(base, secret, 'echo')
    const lines: string[] = []
    const app = proxyApp(fx, { lines })

    const bodies: string[] = []
    for (const [upstreamStatus, clientStatus] of [[400, 400], [500, 502], [429, 429]] as const) {
      status = upstreamStatus
      const res = await app.fetch(chatRequest({}))
      expect(res.status).toBe(clientStatus)
      bodies.push(await res.text())
    }
    expect(bodies[0]).toContain('rejected request with key=[redacted]')
    bodies.push(await (await app.fetch(new Request('http://127.0.0.1:8787/health'))).text())
    await app.close()
    bodies.push(JSON.stringify(await readStats(fx.ctx.storage)))
    bodies.push(JSON.stringify((await fx.ctx.accounts.read()).accounts[0]?.lastError))
    bodies.push(...lines)
    // Two characters occur inside other words by chance; standing alone, they are the key.
    const leaked = secret.length >= 8 ? new RegExp(secret) : new RegExp(`(?<![\\w-])${secret}(?![\\w-])`)
    for (const body of bodies) expect(body).not.toMatch(leaked)
  })
})


describe('rate limits', () => {
  it('a 429 with Retry-After: 0 on the only account is a 429 with Retry-After, not "no usable account"', async () => {
    fx = await proxyFixture()
    const base = await upstream((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' })
      res.end(JSON.stringify({ error: { message: 'Requests rate limit exceeded', code: 'rate_limit_exceeded' } }))
    })
    await keyAccountAt(base, 'plain-upstream-key-0123456789', 'limited')
    const res = await proxyApp(fx).fetch(chatRequest({}))
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded')
  })
})

