/**
 * The runtime's fetch limits must not override qwenauth's: Bun runs 256 fetches at once unless
 * told otherwise at start-up, and the runtimes' own fetch timers cut answers at 300–360 s,
 * before QWENAUTH_IDLE_TIMEOUT_MS (10 min). Each limit is made observable without its real size
 * or a real wait: more than 256 streams, an injected smaller limit, timers scaled down.
 */
import { request, type ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { expireStoredTokens } from './helpers/accounts.ts'
import { chatRequest, loginAs, proxyApp, waitFor } from './helpers/proxy-fixtures.ts'
import { killAll, spawnServe, testScope } from './helpers/serve-instances.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

const event = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`

function streamRequest(baseUrl: string): Promise<Response> {
  return fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }], stream: true }),
  })
}

/**
 * A stream request through node:http, read to its end: 300 of them cost the test's process less
 * than half of what 300 fetches do.
 */
function streamAnswer(baseUrl: string): Promise<{ status: number; text: string }> {
  const body = JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }], stream: true })
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text })).on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

// Side by side: each has a fixture and processes of its own.
describe.concurrent('serve (binary): upstream requests at once', () => {
  it('carries 300 streams at once, past Bun’s own 256', async (context) => {
    const { fx, children, cleanups } = await testScope(context)
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

    const streams = Array.from({ length: 300 }, () => streamAnswer(served.baseUrl))
    await waitFor(() => held.length === 300, 15_000, `300 streams upstream at once (${held.length} so far)`)
    for (const res of held) res.end(`${event(' released')}data: [DONE]\n\n`)
    const answers = await Promise.all(streams)
    expect(answers.filter((a) => a.status === 200 && a.text.includes('released') && a.text.includes('[DONE]'))).toHaveLength(300)
  }, 30_000)

  it('a token refresh does not wait behind model traffic that fills the runtime’s limit', async (context) => {
    const { fx, children } = await testScope(context)
    await loginAs(fx, 'busy@example.com')
    // Streams that stay open: one event, then a long pause (the emulator ends it on close).
    fx.emu.setStreamDelay(60_000)
    // A limit of 8 stands in for Bun's 256 (qwenauth keeps half of a small limit for refreshes).
    // The pool re-reads the store every 100 ms instead of every second, so it soon sees the
    // expired token below.
    const env = { QWENAUTH_OAUTH_URL: fx.emu.url, BUN_CONFIG_MAX_HTTP_REQUESTS: '8', QWENAUTH_POOL_REFRESH_MS: '100' }
    const served = await spawnServe([], { home: fx.home, env, runtime: 'binary', children })
    // Held here until the end: an answer nobody references is collected, and its connection cut.
    const streams = Array.from({ length: 8 }, () => streamRequest(served.baseUrl).catch(() => undefined))
    await waitFor(() => fx.emu.requests.length >= 4, 10_000, 'streams upstream')
    expect(fx.emu.stats.refreshAttempts).toBe(0)

    expireStoredTokens(fx.home)
    // Requests that need the token, until one finds it expired (the pool re-reads the store
    // only when its copy is older than 100 ms); each waits behind the streams, as model traffic.
    for (let sent = 0; sent < 50 && fx.emu.stats.refreshAttempts === 0; sent++) {
      streams.push(streamRequest(served.baseUrl).catch(() => undefined))
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await waitFor(() => fx.emu.stats.refreshAttempts >= 1, 10_000, 'the refresh to reach the OAuth server')
    expect(fx.emu.stats.refreshes).toBe(1)
    await killAll(children)
    await Promise.all(streams)
  }, 30_000)
})

describe('upstream requests and the runtime’s own fetch timers', () => {
  /** Node's fetch: the global dispatcher stands for the runtime's defaults. */
  const DISPATCHER = Symbol.for('undici.globalDispatcher.1')

  // Alone, after the tests above: it changes the dispatcher of every fetch in this process.
  it('a slow head and a long silence mid-stream are not cut by the runtime’s timers (Node, scaled down to 300 ms)', async (context) => {
    const { fx, cleanups } = await testScope(context)
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
