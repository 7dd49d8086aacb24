import { afterEach, describe, expect, it } from 'vitest'
import { createBufferedStatsStore, emptyStats, mergeStats, readStats, type AccountStats } from '../src/store/stats.ts'
import { addKeyAccount, chatRequest, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const KEY = 'sk-visibility-key-987654'
let fx: ProxyFixture
afterEach(async () => {
  await fx?.cleanup()
})

interface Health {
  status: string
  accounts: Record<string, number>
  details?: Array<{ id: string; label: string; status: string; stats: { requests: number; failures: number } | null }>
}

describe('health, counters and logs', () => {
  it('/health reports ok or degraded with accounts by status; details only for key holders, never secrets', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'health@example.com')
    const key = await addKeyAccount(fx, 'sk-upstream-key-555555')
    const app = proxyApp(fx, { apiKeys: [KEY] })

    const open = await app.fetch(new Request('http://127.0.0.1:8787/health'))
    expect(open.status).toBe(200)
    const anonymous = (await open.json()) as Health
    expect(anonymous).toMatchObject({ status: 'ok', accounts: { total: 2, ok: 2, 'cooling-down': 0, 'not-served': 0, 'needs-login': 0 } })
    expect(anonymous.details).toBeUndefined()

    fx.emu.setUserState('health@example.com', 'quota')
    expect((await app.fetch(chatRequest({}, { key: KEY }))).status).toBe(200)
    const res = await app.fetch(new Request('http://127.0.0.1:8787/health', { headers: { authorization: `Bearer ${KEY}` } }))
    const text = await res.text()
    const health = JSON.parse(text) as Health
    expect(health.status).toBe('degraded')
    expect(health.accounts).toMatchObject({ ok: 1, 'cooling-down': 1 })
    expect(health.details?.map((d) => [d.id, d.status])).toEqual([[oauth.id, 'cooling-down'], [key.id, 'ok']])
    expect(health.details?.map((d) => d.stats?.requests)).toEqual([1, 1])
    expect(health.details?.[0]?.stats?.failures).toBe(1)
    for (const secret of [oauth.accessToken, oauth.refreshToken, key.apiKey, KEY]) expect(text).not.toContain(secret)
  })

  it('/health is 503 when no account is usable', async () => {
    fx = await proxyFixture()
    const res = await proxyApp(fx).fetch(new Request('http://127.0.0.1:8787/health'))
    expect(res.status).toBe(503)
    expect(((await res.json()) as Health).status).toBe('degraded')
  })

  it('counts requests, failures and tokens per account into the store, added across apps', async () => {
    fx = await proxyFixture()
    const b = await loginAs(fx, 'b@example.com')
    const a = await loginAs(fx, 'a@example.com')
    fx.emu.setUserState('a@example.com', 'quota')
    for (let round = 0; round < 2; round++) {
      const app = proxyApp(fx)
      const res = await app.fetch(chatRequest({}))
      const usage = ((await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
      expect(usage.prompt_tokens).toBeGreaterThan(0)
      await app.close()
    }
    const stats = await readStats(fx.ctx.storage)
    expect(stats[a.id]).toMatchObject({ requests: 1, failures: 1, promptTokens: 0 })
    expect(stats[a.id]?.lastError?.message).toMatch(/quota/)
    expect(stats[b.id]).toMatchObject({ requests: 2, failures: 0 })
    expect(stats[b.id]?.promptTokens).toBeGreaterThan(0)
    expect(stats[b.id]?.completionTokens).toBeGreaterThan(0)
  })

  it('--verbose logs request headers with credentials redacted; no line holds a token or key', async () => {
    fx = await proxyFixture()
    const account = await loginAs(fx, 'verbose@example.com')
    const lines: string[] = []
    const app = proxyApp(fx, { apiKeys: [KEY], verbose: true, lines })
    await app.fetch(chatRequest({}, { key: KEY, headers: { 'x-trace': 'abc' } }))
    fx.emu.setUserState('verbose@example.com', 'not-served')
    await app.fetch(chatRequest({}, { key: KEY }))
    const log = lines.join('\n')
    expect(log).toMatch(/headers .*"authorization":"\[redacted\]"/)
    expect(log).toContain('"x-trace":"abc"')
    expect(log).toMatch(/POST \/v1\/chat\/completions verbose@example\.com 200 \d+ms/)
    expect(log).toMatch(/POST \/v1\/chat\/completions - 403 \d+ms \(failed over from verbose@example\.com: not served/)
    expect(log).not.toContain(KEY)
    expect(log).not.toContain(account.accessToken)
  })
})

describe('counters while they are being written', () => {
  it('a read during a flush still sees the counts being written (the status page polls every second)', async () => {
    let finishWrite = () => {}
    let writes = 0
    const stored: Record<string, AccountStats> = {}
    const store = createBufferedStatsStore(
      {
        where: 'a slow backend',
        readStored: async () => structuredClone(stored),
        // The first write waits for the test; later ones (close's) go through at once.
        write: (batch) =>
          new Promise<void>((resolve) => {
            finishWrite = () => {
              for (const [id, delta] of batch) stored[id] = mergeStats(stored[id] ?? emptyStats(), delta)
              resolve()
            }
            if (writes++ > 0) finishWrite()
          }),
      },
      60_000,
    )
    store.add('a', { requests: 3 })
    const flushed = store.flush()
    await new Promise((resolve) => setTimeout(resolve, 10))
    const during = store.read()
    store.add('a', { requests: 1 })
    finishWrite()
    await flushed
    expect((await during).a?.requests).toBe(4)
    expect((await store.read()).a?.requests).toBe(4)
    await store.close()
  })
})
