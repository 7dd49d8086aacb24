import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ProxyApp } from '../src/proxy/app.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'
import { chatRequest, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { killAll, spawnServe, type Served } from './helpers/serve-instances.ts'
import type { ChildProcess } from 'node:child_process'

/** What a page's request looks like when it reaches a keyless `serve` on loopback. */
function pageRequest(path: string, init: { host?: string; origin?: string; site?: string; type?: string; body?: string; method?: string } = {}): Request {
  const headers: Record<string, string> = { host: init.host ?? '127.0.0.1:8787' }
  if (init.origin) headers.origin = init.origin
  if (init.site) headers['sec-fetch-site'] = init.site
  if (init.type) headers['content-type'] = init.type
  return new Request(`http://127.0.0.1:8787${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
  })
}

const CHAT = JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'spend my quota' }] })

describe('no web page can use a keyless serve', () => {
  let fx: ProxyFixture
  let app: ProxyApp

  beforeEach(async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'page@example.com')
    app = proxyApp(fx)
  })
  afterEach(() => fx.cleanup())

  it('a cross-site "simple" request (text/plain or a form, no preflight) never reaches the upstream', async () => {
    const plain = await app.fetch(pageRequest('/v1/chat/completions', { origin: 'http://evil.example', site: 'cross-site', type: 'text/plain', body: CHAT }))
    expect(plain.status).toBe(403)
    expect((await plain.json()).error.code).toBe('cross_origin_request')
    const form = await app.fetch(pageRequest('/v1/chat/completions', { origin: 'http://evil.example', type: 'application/x-www-form-urlencoded', body: CHAT }))
    expect(form.status).toBe(403)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('a body not declared as JSON is 415 even without an Origin', async () => {
    const res = await app.fetch(pageRequest('/v1/chat/completions', { type: 'text/plain', body: CHAT }))
    expect(res.status).toBe(415)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('unsupported_media_type')
    expect(body.error.message).toContain('application/json')
    const none = await app.fetch(pageRequest('/v1/chat/completions', { body: CHAT }))
    expect(none.status).toBe(415)
    expect(fx.emu.requests).toHaveLength(0)
    const json = await app.fetch(pageRequest('/v1/chat/completions', { type: 'application/json; charset=utf-8', body: CHAT }))
    expect(json.status).toBe(200)
  })

  it('DNS rebinding: a Host name the server was not started for is refused on every route', async () => {
    for (const path of ['/health', '/v1/models']) {
      const res = await app.fetch(pageRequest(path, { host: 'evil.example:8787' }))
      expect(res.status).toBe(403)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe('host_not_allowed')
      expect(body.error.message).toContain('--allowed-host evil.example')
    }
    // Same-origin from the page's point of view: the rebound name in both Host and Origin.
    const chat = await app.fetch(pageRequest('/v1/chat/completions', { host: 'evil.example:8787', origin: 'http://evil.example:8787', type: 'application/json', body: CHAT }))
    expect(chat.status).toBe(403)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('loopback names, IP literals and the names given with --allowed-host are answered', async () => {
    const rp = proxyApp(fx, { allowedHosts: ['llm.example.com', '.corp.example'] })
    for (const host of ['127.0.0.1:8787', 'localhost:8787', '[::1]:8787', 'LocalHost', '10.1.2.3:8787', 'llm.example.com', 'a.corp.example', 'corp.example']) {
      expect((await rp.fetch(pageRequest('/health', { host }))).status, host).toBe(200)
    }
    expect((await rp.fetch(pageRequest('/health', { host: 'corp.example.evil' }))).status).toBe(403)
    expect((await rp.fetch(pageRequest('/health', { host: 'llm.example.com.evil' }))).status).toBe(403)
  })

  it('a request marked cross-site without an Origin (an image, a navigation) is refused', async () => {
    const res = await app.fetch(pageRequest('/health', { site: 'cross-site' }))
    expect(res.status).toBe(403)
  })

  it('a same-origin page (the server itself) and clients without an Origin pass', async () => {
    const same = await app.fetch(pageRequest('/v1/chat/completions', { origin: 'http://127.0.0.1:8787', site: 'same-origin', type: 'application/json', body: CHAT }))
    expect(same.status).toBe(200)
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
  })

  it("an upstream's CORS headers are never passed on", async () => {
    const direct = await fetch(`${fx.emu.url}/v1/models`, { headers: { authorization: `Bearer ${(await fx.ctx.accounts.read()).accounts[0]?.accessToken}` } })
    expect(direct.headers.get('access-control-allow-origin')).toBe('*')
    for (const res of [await app.fetch(pageRequest('/v1/models')), await app.fetch(chatRequest({})), await app.fetch(chatRequest({ stream: true }))]) {
      expect(res.status).toBe(200)
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
      await res.arrayBuffer()
    }
  })

  it('--cors-origin lets that origin in with proper CORS answers, and only that one', async () => {
    const cors = proxyApp(fx, { corsOrigins: ['https://app.example'] })
    const preflight = await cors.fetch(
      new Request('http://127.0.0.1:8787/v1/chat/completions', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
      }),
    )
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type, authorization')
    const res = await cors.fetch(pageRequest('/v1/chat/completions', { origin: 'https://app.example', site: 'cross-site', type: 'application/json', body: CHAT }))
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(res.headers.get('vary')).toContain('origin')
    const other = await cors.fetch(
      new Request('http://127.0.0.1:8787/v1/chat/completions', { method: 'OPTIONS', headers: { origin: 'https://other.example', 'access-control-request-method': 'POST' } }),
    )
    expect(other.status).toBe(403)
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('serve and exec apply the guard on their real sockets', () => {
  const children: ChildProcess[] = []
  let home: { home: string; cleanup: () => void }
  let fx: ProxyFixture
  beforeAll(async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'socket@example.com')
    home = { home: fx.home, cleanup: () => {} }
  })
  afterAll(async () => {
    await killAll(children)
    await fx.cleanup()
  })

  it('keyless serve refuses a wildcard --cors-origin or --allowed-host', async () => {
    const t = tempHome()
    try {
      for (const flag of ['--cors-origin', '--allowed-host']) {
        const result = await runCli(['serve', '--port', '0', flag, '*'], { home: t.home, timeoutMs: 5000 })
        expect(result.code).toBe(2)
        expect(result.stderr).toContain(`refusing ${flag} * without an API key`)
      }
    } finally {
      t.cleanup()
    }
  })

  it('the private proxy of exec refuses a page request the child might relay', async () => {
    const script = `fetch(process.env.OPENAI_BASE_URL + '/models', { headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY, origin: 'http://evil.example' } }).then(async (r) => { require('node:fs').writeFileSync(process.argv[1], String(r.status)) })`
    // In this process: the child shares the test's stdout, so it writes what it saw to a file.
    const out = join(home.home, 'child-output')
    const result = await runInProcess(['exec', '--', process.execPath, '-e', script, out], { home: home.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url } })
    expect(readFileSync(out, 'utf8')).toBe('403')
    expect(result.code).toBe(0)
  })

  for (const runtime of ['node', 'binary'] as const) {
    it(`odd or missing Host headers get qwenauth's JSON error, no framework page and no stack (${runtime})`, async () => {
      const served: Served = await spawnServe([], { home: home.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, children, runtime })
      const port = Number(new URL(served.baseUrl).port)
      const answers = await Promise.all(
        [
          'GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n',
          'GET /health HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n',
          'GET /health HTTP/1.1\r\nHost: 127.0.0.1:1@evil\r\nConnection: close\r\n\r\n',
          'GET /health HTTP/1.0\r\n\r\n',
        ].map((raw) => rawExchange(port, raw)),
      )
      for (const answer of answers) {
        const [head, body = ''] = answer.split('\r\n\r\n')
        expect(head, answer.slice(0, 300)).toMatch(/^HTTP\/1\.[01] (200|400|403) /)
        expect(head?.toLowerCase()).toContain('content-type: application/json')
        expect(body.length).toBeLessThan(2000)
        expect(body).not.toMatch(/<html|\bat \S+:\d+|node_modules|\/\$bunfs/i)
        expect(body).not.toContain(process.cwd())
      }
      // The two malformed names are refused as such; HTTP/1.0 without a Host is no browser.
      expect(answers[0]).toContain('invalid_host')
      expect(answers[2]).toContain('invalid_host')
      served.child.kill('SIGTERM')
      await served.exited
      expect(served.stderr()).not.toMatch(/TypeError|Invalid URL|\bat \S+:\d+/)
    })
  }
})

/** One raw HTTP exchange, so Host headers no client library would send can be sent. */
function rawExchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw))
    let out = ''
    socket.setEncoding('utf8').on('data', (d: string) => (out += d))
    socket.on('close', () => resolve(out))
    socket.on('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(raw)}`)))
  })
}
