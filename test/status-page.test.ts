import { createHash } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import type { ProxyApp } from '../src/proxy/app.ts'
import { addKeyAccount, chatRequest, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { spawnServe } from './helpers/serve-instances.ts'

const KEY = 'sk-client-key-status-5150'
const UPSTREAM_KEY = 'sk-upstream-key-status-8080'
let fx: ProxyFixture
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await fx?.cleanup()
})

function get(path: string, init: { key?: string; headers?: Record<string, string> } = {}): Request {
  return new Request(`http://127.0.0.1:8787${path}`, { headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...init.headers } })
}

function post(path: string, body: unknown, init: { key?: string; type?: string; headers?: Record<string, string> } = {}): Request {
  return new Request(`http://127.0.0.1:8787${path}`, {
    method: 'POST',
    headers: { 'content-type': init.type ?? 'application/json', ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

function sha256(text: string): string {
  return `sha256-${createHash('sha256').update(text).digest('base64')}`
}

/** The page as served: its CSP must allow exactly its own inline script and style, by hash. */
async function expectPage(response: Response): Promise<string> {
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
  const html = await response.text()
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? ''
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? ''
  expect(script.length).toBeGreaterThan(1000)
  expect(style.length).toBeGreaterThan(1000)
  const csp = response.headers.get('content-security-policy') ?? ''
  expect(csp).toContain(`script-src '${sha256(script)}'`)
  expect(csp).toContain(`style-src '${sha256(style)}'`)
  expect(csp).toContain("default-src 'none'")
  expect(csp).toContain("frame-ancestors 'none'")
  expect(csp).toContain("connect-src 'self'")
  expect(csp).not.toMatch(/unsafe-|\*|https?:/)
  expect(response.headers.get('x-frame-options')).toBe('DENY')
  expect(response.headers.get('x-content-type-options')).toBe('nosniff')
  expect(response.headers.get('referrer-policy')).toBe('no-referrer')
  expect(response.headers.get('set-cookie')).toBeNull()
  // Nothing to load from elsewhere: no external script, style, font or image.
  expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)="(https?:)?\/\//i)
  expect(html).not.toMatch(/@import|url\(/)
  return html
}

describe('the status page over HTTP', () => {
  let app: ProxyApp

  it('GET / and /ui answer the page for anyone, with a strict CSP and no cookies; its data needs the key', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'page@example.com')
    await addKeyAccount(fx, UPSTREAM_KEY)
    const lines: string[] = []
    app = proxyApp(fx, { apiKeys: [KEY], statusPage: true, lines })
    const first = await expectPage(await app.fetch(get('/')))
    expect(await expectPage(await app.fetch(get('/ui')))).toBe(first)

    const anonymous = await app.fetch(get('/ui/state'))
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('x-content-type-options')).toBe('nosniff')
    expect((await app.fetch(get('/ui/state', { key: 'sk-wrong-key-000000' }))).status).toBe(401)

    const res = await app.fetch(get('/ui/state', { key: KEY }))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const text = await res.text()
    const state = JSON.parse(text) as { canAct: boolean; strategy: string; accounts: Array<{ id: string; keyHint: string | null }>; providers: Array<{ name: string }> }
    expect(state.canAct).toBe(true)
    expect(state.accounts.map((a) => a.id)).toEqual([oauth.id, 'key-1'])
    expect(state.accounts[1]?.keyHint).toBe(`…${UPSTREAM_KEY.slice(-4)}`)
    expect(state.providers.map((p) => p.name)).toContain('coding-plan')
    for (const secret of [oauth.accessToken, oauth.refreshToken, UPSTREAM_KEY, KEY]) expect(text).not.toContain(secret)
    // The page and its polls are not in the log; refusals are.
    expect(lines.filter((l) => l.startsWith('GET /ui/state '))).toHaveLength(2)
    expect(lines.some((l) => l.startsWith('GET / ') || l.startsWith('GET /ui '))).toBe(false)
  })

  it('no secret reaches the page data, not even a key an upstream echoed into an error', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'echo@example.com')
    await addKeyAccount(fx, UPSTREAM_KEY)
    fx.emu.setEchoCredential(true)
    fx.emu.setUserState('echo@example.com', 'quota')
    fx.emu.setApiKeyState(UPSTREAM_KEY, 'quota')
    app = proxyApp(fx, { apiKeys: [KEY], statusPage: true })
    expect((await app.fetch(chatRequest({}, { key: KEY }))).status).toBe(429)
    const text = await (await app.fetch(get('/ui/state', { key: KEY }))).text()
    expect(text).toContain('quota exhausted')
    expect(text).toContain('[redacted]')
    for (const secret of [oauth.accessToken, oauth.refreshToken, UPSTREAM_KEY, KEY]) expect(text).not.toContain(secret)

    // A key the provider refuses, quoted back in its refusal: the answer and the log hold it redacted.
    const refused = 'sk-refused-and-echoed-9999'
    const lines: string[] = []
    const logged = proxyApp(fx, { apiKeys: [KEY], statusPage: true, lines })
    const answer = await logged.fetch(post('/ui/add-key', { provider: `${fx.emu.url}/v1`, apiKey: refused }, { key: KEY }))
    expect(answer.status).toBe(400)
    const error = await answer.text()
    expect(error).toMatch(/the provider refused the key \(401\).*\[redacted\]/)
    expect(error).not.toContain(refused)
    expect(lines.join('\n')).not.toContain(refused)
    expect((await fx.ctx.accounts.read()).accounts).toHaveLength(2)
  })

  it('actions are POST with a JSON body, from the page\'s own origin, with the key; each is logged', async () => {
    fx = await proxyFixture()
    const keyAccount = await addKeyAccount(fx, UPSTREAM_KEY)
    const oauth = await loginAs(fx, 'actions@example.com')
    const lines: string[] = []
    app = proxyApp(fx, { apiKeys: [KEY], statusPage: true, lines })
    const body = { account: keyAccount.id }
    const order = async () => (await fx.ctx.accounts.read()).accounts.map((a) => a.id)

    const wrongMethod = await app.fetch(get('/ui/activate', { key: KEY }))
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('POST')
    expect((await app.fetch(post('/ui/activate', JSON.stringify(body), { key: KEY, type: 'text/plain' }))).status).toBe(415)
    expect((await app.fetch(post('/ui/activate', body))).status).toBe(401)
    const crossSite = await app.fetch(post('/ui/activate', body, { key: KEY, headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' } }))
    expect(crossSite.status).toBe(403)
    expect((await app.fetch(post('/ui/activate', body, { key: KEY, headers: { host: 'evil.example:8787' } }))).status).toBe(403)
    expect(await order()).toEqual([oauth.id, keyAccount.id])

    const sameOrigin = { origin: 'http://127.0.0.1:8787', 'sec-fetch-site': 'same-origin' }
    const made = await app.fetch(post('/ui/activate', body, { key: KEY, headers: sameOrigin }))
    expect(made.status).toBe(200)
    expect(((await made.json()) as { message: string }).message).toBe(`${keyAccount.label} (${keyAccount.id}) is now the active account`)
    expect(await order()).toEqual([keyAccount.id, oauth.id])

    const unknown = await app.fetch(post('/ui/remove', { account: 'nobody' }, { key: KEY }))
    expect(unknown.status).toBe(400)
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/^no account "nobody"/)
    expect((await app.fetch(post('/ui/reset', {}, { key: KEY }))).status).toBe(400)
    expect((await app.fetch(post('/ui/remove', body, { key: KEY }))).status).toBe(200)
    expect(await order()).toEqual([oauth.id])
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^POST /ui/activate - 200 \\d+ms \\(made ${keyAccount.id} active\\)$`)))
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^POST /ui/remove - 200 \\d+ms \\(removed ${keyAccount.id}\\)$`)))
  })

  it('clears a cooldown or a mark, but not a refused OAuth login that only a new login fixes', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'marks@example.com')
    app = proxyApp(fx, { apiKeys: [KEY], statusPage: true })
    const mark = (status: 'cooling-down' | 'needs-login' | 'not-served') =>
      fx.ctx.accounts.update((doc) => {
        Object.assign(doc.accounts[0]!, { status, lastError: { message: 'marked', at: Date.now() } })
        if (status === 'cooling-down') doc.accounts[0]!.cooldownUntil = Date.now() + 60_000
      })
    const clear = () => app.fetch(post('/ui/reset', { account: oauth.id }, { key: KEY }))
    for (const status of ['cooling-down', 'not-served'] as const) {
      await mark(status)
      const res = await clear()
      expect(((await res.json()) as { message: string }).message).toBe(`marks@example.com (${oauth.id}): ${status} cleared; it serves again`)
      const stored = (await fx.ctx.accounts.read()).accounts[0]!
      expect([stored.status, stored.cooldownUntil, stored.lastError]).toEqual(['ok', undefined, undefined])
    }
    await mark('needs-login')
    const refused = await clear()
    expect(refused.status).toBe(409)
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/still needs a new login: the OAuth server refused its refresh token, which reset cannot undo/)
    expect((await fx.ctx.accounts.read()).accounts[0]?.status).toBe('needs-login')
  })

  it('without a client key the page is read-only: data for this machine, no actions', async () => {
    fx = await proxyFixture()
    await addKeyAccount(fx, UPSTREAM_KEY)
    app = proxyApp(fx, { statusPage: true })
    const state = (await (await app.fetch(get('/ui/state'))).json()) as { canAct: boolean; readOnly: string }
    expect(state.canAct).toBe(false)
    expect(state.readOnly).toMatch(/^read-only: this serve has no client key/)
    for (const path of ['/ui/activate', '/ui/reset', '/ui/remove']) {
      const res = await app.fetch(post(path, { account: 'key-1' }))
      expect(res.status).toBe(403)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('read_only')
    }
    const add = await app.fetch(post('/ui/add-key', { provider: `${fx.emu.url}/v1`, apiKey: 'sk-would-be-added-1234' }))
    expect(add.status).toBe(403)
    expect((await fx.ctx.accounts.read()).accounts).toHaveLength(1)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('is off unless asked for (exec\'s proxy), and off with --no-ui', async () => {
    fx = await proxyFixture()
    app = proxyApp(fx, { apiKeys: [KEY] })
    for (const path of ['/', '/ui', '/ui/state']) expect((await app.fetch(get(path, { key: KEY }))).status).toBe(404)
    const listed = ((await (await app.fetch(get('/nope', { key: KEY }))).json()) as { error: { message: string } }).error.message
    expect(listed).toContain('GET /metrics')
    expect(listed).not.toMatch(/GET \/ui|GET \/[,)]/)
    expect((await app.fetch(post('/ui/remove', { account: 'x' }, { key: KEY }))).status).toBe(404)
  })
})

describe('the shipped serve', () => {
  for (const runtime of ['node', 'binary'] as const) {
    it(`serves the page from inside the ${runtime === 'node' ? 'npm bundle' : 'binary'}; --no-ui turns it off, --metrics-public opens /metrics`, async () => {
      fx = await proxyFixture()
      await loginAs(fx, 'shipped@example.com')
      const env = { QWENAUTH_OAUTH_URL: fx.emu.url, QWENAUTH_API_KEYS: KEY }
      const served = await spawnServe([], { home: fx.home, env, runtime, children })
      const origin = served.baseUrl.replace(/\/v1$/, '')
      await expectPage(await fetch(`${origin}/`))
      expect(served.stderr()).toContain(`status page: ${origin}/ (with a client key); Prometheus metrics: ${origin}/metrics`)
      expect((await fetch(`${origin}/metrics`)).status).toBe(401)
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)

      const off = await spawnServe(['--no-ui', '--metrics-public'], { home: fx.home, env, runtime, children })
      const offOrigin = off.baseUrl.replace(/\/v1$/, '')
      expect((await fetch(`${offOrigin}/`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(404)
      const metrics = await fetch(`${offOrigin}/metrics`)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toContain('qwenauth_accounts{status="ok"} 1')
      expect(off.stderr()).not.toContain('status page')
      off.child.kill('SIGTERM')
      expect(await off.exited).toBe(0)
    })
  }
})
