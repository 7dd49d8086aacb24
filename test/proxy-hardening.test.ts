import { afterEach, describe, expect, it } from 'vitest'
import { startProxyServer } from '../src/proxy/server.ts'
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

/** Resolves with the read, or with 'stuck' when nothing comes within `ms`. */
function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<ReadableStreamReadResult<Uint8Array> | 'stuck'> {
  return Promise.race([reader.read(), new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), ms))])
}

describe('review: token refresh shared by concurrent requests', () => {
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

describe('review: upstream errors that echo the credential', () => {
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

describe('review: slow clients', () => {
  it('a client that reads slower than the idle timeout still gets the whole stream, and it ends', async () => {
    fx = await proxyFixture()
    const base = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      let n = 0
      const timer = setInterval(() => {
        if (++n <= 10) return void res.write(`data: {"n":${n}}\n\n`)
        clearInterval(timer)
        res.end('data: [DONE]\n\n')
      }, 5)
    })
    await keyAccountAt(base, 'plain-upstream-key-0123456789', 'fast')
    const lines: string[] = []
    const app = proxyApp(fx, { idleTimeoutMs: 150, lines })

    const res = await app.fetch(chatRequest({ stream: true }))
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    for (let reads = 0; reads < 40; reads++) {
      const result = await readWithin(reader, 2000)
      expect(result).not.toBe('stuck')
      if (result === 'stuck' || result.done) break
      text += new TextDecoder().decode(result.value)
      // The upstream has long finished; only this client is slow.
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(text).toContain('data: {"n":10}')
    expect(text).toContain('data: [DONE]')
    expect(text).not.toContain('upstream_stream_error')
    expect(lines[0]).toMatch(/ fast 200 \d+ms$/)
  })

  it('a stalled client holds the upstream back: memory stays bounded', async () => {
    fx = await proxyFixture()
    let written = 0
    const event = `data: ${JSON.stringify({ choices: [{ delta: { content: 'x'.repeat(4000) } }] })}\n\n`
    const base = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const pump = () => {
        while (written < 256 * 1024 * 1024) {
          written += event.length
          if (!res.write(event)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    })
    await keyAccountAt(base, 'plain-upstream-key-0123456789', 'firehose')
    const server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [], log: () => {}, drainMs: 100 })
    cleanups.push(() => server.close())
    const request = chatRequest({ stream: true })
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: request.headers, body: await request.text() })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    // Socket buffers on both sides hold a few MiB; a proxy that buffered would take it all.
    await new Promise((resolve) => setTimeout(resolve, 800))
    expect(written).toBeLessThan(48 * 1024 * 1024)
    await reader.cancel()
  })
})

describe('review: rate limits', () => {
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

describe('review: shutdown and binding', () => {
  it('a stream cut when the drain time runs out is still logged and counted before close() returns', async () => {
    fx = await proxyFixture({ streamDelayMs: 300, reply: Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ') })
    const account = await loginAs(fx, 'drain@example.com')
    const lines: string[] = []
    const server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [], log: (line) => lines.push(line), drainMs: 300 })
    const request = chatRequest({ stream: true })
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: request.headers, body: await request.text() })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    const reading = (async () => {
      for (;;) if ((await reader.read()).done) return
    })().catch(() => {})

    await server.close()
    expect(lines).toEqual([expect.stringMatching(/^POST \/v1\/chat\/completions drain@example\.com client-closed \d+ms$/)])
    expect((await readStats(fx.ctx.storage))[account.id]?.requests).toBe(1)
    await reading
  })

  it('an empty API key does not count as one for listening beyond loopback', async () => {
    fx = await proxyFixture()
    // 192.0.2.1 (TEST-NET-1) is on no machine: the refusal must come before any attempt to bind.
    await expect(startProxyServer({ ctx: fx.ctx, host: '192.0.2.1', port: 0, apiKeys: [''] })).rejects.toThrow(/refusing to listen on 192\.0\.2\.1 without an API key/)
  })
})
