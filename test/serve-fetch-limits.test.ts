/**
 * The runtime's fetch limits must not override qwenauth's: Bun runs 256 fetches at once unless
 * told otherwise at start-up, and the runtimes' own fetch timers cut answers at 300–360 s,
 * before QWENAUTH_IDLE_TIMEOUT_MS (10 min). Each limit is made observable without its real size
 * or a real wait: more than 256 streams, an injected smaller limit, timers scaled down.
 */
import type { ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { expireStoredTokens } from './helpers/accounts.ts'
import { chatRequest, loginAs, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { endedAfterEachTest, killAll, spawnServe } from './helpers/serve-instances.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture | undefined
// Registered first, so it runs last: the processes and stubs go before the emulator.
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
})
const { children, cleanups } = endedAfterEachTest()

const event = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`

function streamRequest(baseUrl: string): Promise<Response> {
  return fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }], stream: true }),
  })
}

describe('serve (binary): upstream requests at once', () => {
  it('carries 300 streams at once, past Bun’s own 256', async () => {
    fx = await proxyFixture()
    // Every stream stays open, one event sent, until the test lets them end.
    const held: ServerResponse[] = []
    const base = await stubUpstream((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(event('held'))
      held.push(res)
    }, cleanups)
    await keyAccountAt(fx.ctx, base, 'key-held-streams-0001', 'held')
    const served = await spawnServe([], { home: fx.home, env: { BUN_CONFIG_MAX_HTTP_REQUESTS: undefined }, runtime: 'binary', children })

    const streams = Array.from({ length: 300 }, () => streamRequest(served.baseUrl).then(async (res) => ({ status: res.status, text: await res.text() })))
    await waitFor(() => held.length === 300, 15_000, `300 streams upstream at once (${held.length} so far)`)
    for (const res of held) res.end(`${event(' released')}data: [DONE]\n\n`)
    const answers = await Promise.all(streams)
    expect(answers.filter((a) => a.status === 200 && a.text.includes('released') && a.text.includes('[DONE]'))).toHaveLength(300)
  }, 30_000)

  it('a token refresh does not wait behind model traffic that fills the runtime’s limit', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'busy@example.com')
    // Streams that stay open: one event, then a long pause (the emulator ends it on close).
    fx.emu.setStreamDelay(60_000)
    // A limit of 8 stands in for Bun's 256 (qwenauth keeps half of a small limit for refreshes).
    const served = await spawnServe([], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, BUN_CONFIG_MAX_HTTP_REQUESTS: '8' }, runtime: 'binary', children })
    // Held here until the end: an answer nobody references is collected, and its connection cut.
    const streams = Array.from({ length: 8 }, () => streamRequest(served.baseUrl).catch(() => undefined))
    await waitFor(() => fx!.emu.requests.length >= 4, 10_000, 'streams upstream')
    expect(fx.emu.stats.refreshAttempts).toBe(0)

    expireStoredTokens(fx.home)
    // The pool re-reads the store every second; the next request finds the token expired.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    streams.push(streamRequest(served.baseUrl).catch(() => undefined))
    await waitFor(() => fx!.emu.stats.refreshAttempts >= 1, 10_000, 'the refresh to reach the OAuth server')
    expect(fx.emu.stats.refreshes).toBe(1)
    await killAll(children)
    await Promise.all(streams)
  }, 30_000)
})

describe('upstream requests and the runtime’s own fetch timers', () => {
  /** Node's fetch: the global dispatcher stands for the runtime's defaults. */
  const DISPATCHER = Symbol.for('undici.globalDispatcher.1')

  it('a slow head and a long silence mid-stream are not cut by the runtime’s timers (Node, scaled down to 300 ms)', async () => {
    fx = await proxyFixture()
    void new Headers() // loads Node's fetch, which sets its global dispatcher
    const globals = globalThis as Record<symbol, unknown>
    const runtimeDefault = globals[DISPATCHER] as object
    const Dispatcher = runtimeDefault.constructor as new (options: object) => object
    // undici's 300 s head and body timeouts, as 300 ms (undici's timers tick about once a second).
    globals[DISPATCHER] = new Dispatcher({ headersTimeout: 300, bodyTimeout: 300 })
    cleanups.push(async () => void (globals[DISPATCHER] = runtimeDefault))
    const base = await stubUpstream((req, res) => {
      let body = ''
      req.on('data', (data: Buffer) => (body += data))
      req.on('end', () => {
        if (!(JSON.parse(body) as { stream?: boolean }).stream) {
          setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[{"message":{"content":"late head"}}]}'), 2500)
          return
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.write(event('first'))
        setTimeout(() => res.end(`${event(' after 2.5 s')}data: [DONE]\n\n`), 2500)
      })
    }, cleanups)
    await keyAccountAt(fx.ctx, base, 'key-slow-upstream-0002', 'slow')
    const app = proxyApp(fx)

    const [whole, streamed] = await Promise.all([app.fetch(chatRequest({})), app.fetch(chatRequest({ stream: true }))])
    expect(whole.status).toBe(200)
    expect(await whole.text()).toContain('late head')
    const text = await streamed.text()
    expect(text).toContain('after 2.5 s')
    expect(text).not.toContain('error')
  }, 15_000)
})
