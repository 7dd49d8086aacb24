/**
 * The proxy with clients that read slowly or stall, and at shutdown: a stream is never cut for a
 * slow reader, memory stays bounded for a stalled one, close() neither waits for idle
 * connections nor loses the record of a stream it cut, and an empty key never opens the network.
 */
import { Agent, request as httpRequest } from 'node:http'
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

describe('slow clients', () => {
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


describe('shutdown and binding', () => {
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
  it('a keep-alive connection that falls idle while draining does not hold close() up until the drain time runs out', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'idle@example.com')
    // A drain time far past the test's own limit: close() must not wait for it.
    const server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [], log: () => {}, drainMs: 3_600_000 })
    const agent = new Agent({ keepAlive: true })
    cleanups.push(async () => agent.destroy())
    const body = await chatRequest({}).text()
    fx.emu.delayNextResponse(300)
    const answered = new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(`${server.url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end(body)
    })
    await waitFor(() => fx.emu.requests.length === 1, 3000, 'the request upstream')
    // Closing while the request is in flight: its connection falls idle only after the answer.
    const closed = server.close()
    expect(await answered).toBe(200)
    await closed
  })
})
