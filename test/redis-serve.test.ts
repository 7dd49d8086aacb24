import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createContext } from '../src/context.ts'
import { logger } from '../src/lib/logger.ts'
import { LOCK_NAMES } from '../src/lib/paths.ts'
import { createRedisBackend } from '../src/store/redis-backend.ts'
import { runStatus } from '../src/commands/status.ts'
import { runStoreCopy } from '../src/commands/store.ts'
import { tempHome } from './helpers/cli.ts'
import { inProcess, succeeded } from './helpers/in-process.ts'
import { addKeyAccount, loginAs, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { hasRedis } from './helpers/redis.ts'
import { chat, linesOf, redisServes, spread, startServes as startInstances, type RedisServes } from './helpers/serve-instances.ts'

/**
 * Several `qwenauth serve` processes on one Redis, as behind a load balancer: one refresh per
 * expiry, a lock that outlives no holder, marks seen by every instance, and an outage survived.
 */
let fx: ProxyFixture
let shared: RedisServes
const storeUrl = () => shared.storeUrl()

/** Serve processes on the test's Redis database. */
const serveOptions = (env: Record<string, string>) => ({
  home: fx.home,
  env: { QWENAUTH_OAUTH_URL: fx.emu.url, QWENAUTH_STORAGE: storeUrl(), ...env },
  children: shared.children,
})
const startServes = (count: number, env: Record<string, string> = {}) => startInstances(count, serveOptions(env))
/** `qwenauth status --json`'s accounts for the test's Redis database, in this process. */
const statusOnRedis = async () => succeeded(await inProcess({ home: fx.home, env: { QWENAUTH_STORAGE: storeUrl() } }, runStatus))
/** `qwenauth store copy`, in this process. */
const storeCopy = (from: string, to: string) => inProcess({ home: fx.home }, () => runStoreCopy({ from, to }))

describe.skipIf(!hasRedis)('several serve instances on one Redis', () => {
  shared = redisServes()
  beforeEach(() => void (fx = shared.fx))

  it('three instances, 300 requests, tokens expired twice mid-way: every request succeeds, one refresh per expiry', async () => {
    await loginAs(fx, 'many@example.com')
    const instances = await startServes(3)
    fx.emu.reset()
    const answers = await spread(instances, 300, 6, (done) => {
      if (done === 100 || done === 200) fx.emu.expireAccessTokens()
    })
    const failed = answers.map((a, i) => ({ i, ...a })).filter((a) => a.status !== 200)
    expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([])
    expect(fx.emu.stats.refreshes).toBe(2)
    expect(fx.emu.stats.refreshAttempts).toBe(2)
    // The load really was spread: each instance logged its third (consola folds runs of identical
    // lines into one "(repeated N times)" line a second later, so those count N times).
    for (const instance of instances) {
      const served = () =>
        linesOf(instance, /POST \/v1\/chat\/completions many@example\.com 200/)
          .map((line) => Number(/\(repeated (\d+) times\)/.exec(line)?.[1] ?? 1))
          .reduce((sum, n) => sum + n, 0)
      await waitFor(() => served() === 100, 3000, `${instance.name}'s 100 log lines`)
    }
  }, 60_000)

  it('an instance SIGKILLed while refreshing holds the lock only for its TTL; another completes the refresh', async () => {
    const account = await loginAs(fx, 'killed@example.com')
    const [a, b] = await startServes(2, { QWENAUTH_REDIS_LOCK_TTL_MS: '600' })
    expect((await chat(a!)).status).toBe(200)
    expect((await chat(b!)).status).toBe(200)

    fx.emu.reset()
    fx.emu.setRefreshDelay(10_000)
    fx.emu.expireAccessTokens()
    const abandoned = chat(a!).catch((error: Error) => ({ status: 0, text: error.message }))
    await waitFor(() => fx.emu.stats.refreshAttempts === 1, 5000, "A's refresh upstream")
    const lockKey = `qwenauth:lock:${LOCK_NAMES.account(account.id)}`
    const inspector = createRedisBackend(storeUrl(), 'qwenauth')
    const client = await inspector.client()
    try {
      expect(await client.get(lockKey)).toBeTruthy()
      a!.child.kill('SIGKILL')
      await a!.exited
      expect((await abandoned).status).toBe(0)
      fx.emu.setRefreshDelay(0)

      // The emulator drops a refresh whose client went away, so the refresh token still works.
      const started = Date.now()
      const answer = await chat(b!)
      const waited = Date.now() - started
      expect(answer.status, answer.text).toBe(200)
      // B waited for the dead holder's lock to run out (at most 0.6 s, extended every 0.2 s); had
      // it waited for a lock that never expires, the test's own time limit would end it.
      expect(waited).toBeGreaterThanOrEqual(200)
      expect(fx.emu.stats.refreshAttempts).toBe(2)
      expect(fx.emu.stats.refreshes).toBe(1)
      expect(await client.get(lockKey)).toBeNull()
      // B's token is the one the store holds now.
      const stored = (await fx.ctx.accounts.read()).accounts.find((a) => a.id === account.id)?.accessToken
      expect(fx.emu.requests.at(-1)?.auth).toBe(stored)
    } finally {
      await inspector.close()
    }
  }, 30_000)

  it('a quota cooldown set through one instance is honoured by the others once they re-read the pool', async () => {
    const oauth = await loginAs(fx, 'quota@example.com')
    const key = 'sk-shared-key-5555555555'
    await addKeyAccount(fx, key)
    // The pool's snapshot is re-read every 200 ms here (1 s by default).
    const [a, b, c] = await startServes(3, { QWENAUTH_POOL_REFRESH_MS: '200' })
    // Every instance has read the pool (OAuth first) before the cooldown exists.
    for (const instance of [a!, b!, c!]) expect((await chat(instance)).status).toBe(200)
    expect(fx.emu.requests.every((r) => r.auth === oauth.accessToken)).toBe(true)

    fx.emu.setUserState('quota@example.com', 'quota')
    const before = fx.emu.requests.length
    expect((await chat(a!)).status).toBe(200)
    expect(fx.emu.requests.slice(before).map((r) => r.auth)).toEqual([oauth.accessToken, key])

    // B and C read A's mark from Redis when their snapshot is next re-read (every 200 ms here);
    // their /health shows it, and their next requests go to the key without trying OAuth.
    for (const instance of [b!, c!]) {
      const health = async () => (await (await fetch(`${instance.baseUrl.replace(/\/v1$/, '')}/health`)).json()) as { details: Array<{ id: string; status: string }> }
      await waitFor(async () => (await health()).details.find((d) => d.id === oauth.id)?.status === 'cooling-down', 8000, `${instance.name} reading the mark`)
    }
    const after = fx.emu.requests.length
    expect((await chat(b!)).status).toBe(200)
    expect((await chat(c!)).status).toBe(200)
    expect(fx.emu.requests.slice(after).map((r) => r.auth)).toEqual([key, key])
    expect((await statusOnRedis()).find((x) => x.id === oauth.id)?.status).toBe('cooling-down')

    // Stopping one instance leaves the others serving (a load balancer would route around it).
    c!.child.kill('SIGTERM')
    await c!.exited
    expect(c!.child.exitCode).toBe(0)
    expect((await chat(b!)).status).toBe(200)
  }, 30_000)

  it('a store that closes its own Redis connection reports no outage (in-process users such as tests)', async () => {
    const warn = vi.spyOn(logger, 'warn')
    try {
      const ctx = createContext({ QWENAUTH_STORAGE: storeUrl() })
      await ctx.accounts.read()
      await ctx.close()
      await new Promise((r) => setTimeout(r, 100))
      expect(warn).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
    }
  })

  it('Redis stopped during traffic: valid tokens keep serving, marks stay local, one log line, no refresh until it is back', async () => {
    const account = await loginAs(fx, 'outage@example.com')
    // A directory copy of the store, to seed Redis again after its restart (below).
    const seed = tempHome()
    try {
      const copied = await storeCopy(storeUrl(), seed.home)
      expect(copied.code, copied.stderr).toBe(0)
      const instances = await startServes(2, { QWENAUTH_QUOTA_COOLDOWN_MS: '700' })
      expect((await spread(instances, 20, 4)).every((x) => x.status === 200)).toBe(true)

      await shared.redis.stop()
      const stoppedAt = Date.now()
      const during = await spread(instances, 60, 4)
      expect(during.filter((x) => x.status !== 200)).toEqual([])
      // Past the pool's re-read interval (1 s) and the counters' flush (1 s): both fail now.
      await new Promise((r) => setTimeout(r, Math.max(0, 1500 - (Date.now() - stoppedAt))))
      expect((await spread(instances, 20, 4)).every((x) => x.status === 200)).toBe(true)

      // A cooldown earned while Redis is away cannot be stored; each instance keeps it for itself.
      fx.emu.setUserState('outage@example.com', 'quota')
      for (const instance of instances) expect((await chat(instance)).status).toBe(429)
      const upstreamBefore = fx.emu.requests.length
      for (const instance of instances) expect((await chat(instance)).status).toBe(429)
      expect(fx.emu.requests.length).toBe(upstreamBefore)
      fx.emu.setUserState('outage@example.com', 'ok')
      await new Promise((r) => setTimeout(r, 800))
      // The first request after a cooldown is the account's trial, one per instance; another that
      // came meanwhile would be told to retry (by design), so the trials go one at a time.
      for (const instance of instances) expect((await chat(instance)).status).toBe(200)
      expect((await spread(instances, 4, 2)).every((x) => x.status === 200)).toBe(true)

      // Health answers from the snapshot; the counters, kept in Redis, are left out meanwhile.
      const health = await fetch(`${instances[0]!.baseUrl.replace(/\/v1$/, '')}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ status: 'ok', details: [{ id: account.id, status: 'ok', stats: null }] })

      for (const instance of instances) {
        // One line for the outage: not one per request, per failed re-read, flush or mark.
        const notes = instance.stderr().split('\n').filter((line) => line && !/ (GET|POST) \/\S+ |base URL|status page: /.test(line))
        expect(notes, notes.join('\n')).toHaveLength(1)
        expect(notes[0]).toMatch(/lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+\/\d+; going on with the tokens held/)
      }

      // A token that needs refreshing cannot be refreshed without the lock: a clear failure, no refresh.
      fx.emu.reset()
      fx.emu.expireAccessTokens()
      for (const instance of instances) {
        const refused = await chat(instance)
        expect(refused.status).toBe(502)
        expect(refused.text).toMatch(/token refresh failed: Redis at redis:\/\/127\.0\.0\.1:\d+\/\d+ is unreachable/)
      }
      expect(fx.emu.stats.refreshAttempts).toBe(0)

      // A redis-server without persistence comes back empty, as a real one with no AOF/RDB
      // would: the operator seeds it again from a copy (`store copy`). Its refresh token was
      // never spent, since no refresh could happen while Redis was away.
      await shared.redis.start()
      const reseeded = await storeCopy(seed.home, storeUrl())
      expect(reseeded.code, reseeded.stderr).toBe(0)
      for (const instance of instances) await waitFor(() => /reconnected to Redis/.test(instance.stderr()), 8000, `${instance.name} reconnecting`)

      const resumed = await spread(instances, 20, 4)
      expect(resumed.filter((x) => x.status !== 200)).toEqual([])
      expect(fx.emu.stats.refreshes).toBe(1)
      // Counters written after the restart reach the new Redis (the 20 answers above at least).
      await waitFor(
        async () => {
          const entry = (await statusOnRedis())[0]
          return entry?.id === account.id && (entry.stats?.requests ?? 0) >= 20
        },
        8000,
        'the counters on the restarted Redis',
      )
    } finally {
      seed.cleanup()
    }
  }, 60_000)
})
