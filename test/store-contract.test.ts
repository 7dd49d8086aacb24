/**
 * One contract, two stores: a directory (files, `oauth_creds.json` mirrored for the official CLI,
 * lock files) and Redis (keys under a prefix, `SET NX PX` locks, no files at all). Each test runs
 * against both; what differs between them (the mirror) is stated, not skipped.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createContext, type Context } from '../src/context.ts'
import type { Clock } from '../src/lib/clock.ts'
import { KEYS, LOCK_NAMES } from '../src/lib/paths.ts'
import type { Account } from '../src/store/account-model.ts'
import { readText } from '../src/store/json-item.ts'
import { createFileLocker } from '../src/store/file-lock.ts'
import type { Locker } from '../src/store/locker.ts'
import { createRedisLocker } from '../src/store/redis-lock.ts'
import { openStatsStore, readAllStats } from '../src/store/stats-backend.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { credsPath, loginInProcess, readJsonFile } from './helpers/accounts.ts'
import { collect, runCli, spawnCli, tempHome } from './helpers/cli.ts'
import { fakeClock } from './helpers/fake-clock.ts'
import { hasRedis, startRedis, type RedisServer } from './helpers/redis.ts'

/** One store for one test, and ways to look at it from outside. */
interface StoreUnderTest {
  /** QWEN_HOME of the test: the store itself for files; for Redis, a directory that must stay empty. */
  home: string
  /** What a command needs in its environment (besides QWEN_HOME) to use this store. */
  env: Record<string, string>
  /** Whether the active Qwen login is mirrored into oauth_creds.json for the official CLI. */
  mirrors: boolean
  /** A context on the store, as one more process would open it (closed after the test). */
  open(options?: { clock?: Clock }): Context
  /** A locker whose locks expire `ttlMs` after their holder stops renewing them. */
  locker(ttlMs: number): Locker
  /** The owner token of the lock `name`, if anyone holds it. */
  lockOwner(name: string): Promise<string | undefined>
  /** A lock on `name` as a holder that died left it: nobody renews it. */
  plantLock(name: string, owner: string, ttlMs: number): Promise<void>
}

interface Backend {
  name: string
  skip: boolean
  setup?(): Promise<void>
  teardown?(): Promise<void>
  create(home: string, opened: Context[]): Promise<StoreUnderTest>
}

let emu: Emulator
let redis: RedisServer | undefined
let prefixes = 0

function fileStore(home: string, opened: Context[]): StoreUnderTest {
  const lockPath = (name: string) => (name === LOCK_NAMES.creds ? join(home, 'oauth_creds.lock') : join(home, 'qwenauth', 'locks', `${name}.lock`))
  const env = { QWENAUTH_OAUTH_URL: emu.url }
  return {
    home,
    env,
    mirrors: true,
    open: (options = {}) => remember(opened, createContext({ QWEN_HOME: home, ...env }, undefined, options)),
    locker: (ttlMs) => createFileLocker(home, ttlMs),
    lockOwner: async (name) => (existsSync(lockPath(name)) ? readFileSync(lockPath(name), 'utf8') : undefined),
    async plantLock(name, owner) {
      mkdirSync(dirname(lockPath(name)), { recursive: true })
      writeFileSync(lockPath(name), owner)
    },
  }
}

async function redisStore(home: string, opened: Context[]): Promise<StoreUnderTest> {
  // A prefix of its own per test: no test sees another's keys.
  const prefix = `contract${++prefixes}`
  const env = { QWENAUTH_OAUTH_URL: emu.url, QWENAUTH_STORAGE: redis!.url, QWENAUTH_STORAGE_PREFIX: prefix }
  const open = (options: { clock?: Clock } = {}) => remember(opened, createContext({ QWEN_HOME: home, ...env }, undefined, options))
  const client = await open().redis!.client()
  const key = (name: string) => `${prefix}:lock:${name}`
  return {
    home,
    env,
    mirrors: false,
    open,
    locker: (ttlMs) => createRedisLocker(open().redis!.client, prefix, ttlMs),
    lockOwner: async (name) => (await client.get(key(name))) ?? undefined,
    async plantLock(name, owner, ttlMs) {
      await client.set(key(name), owner, 'PX', ttlMs)
    },
  }
}

function remember(opened: Context[], ctx: Context): Context {
  opened.push(ctx)
  return ctx
}

const BACKENDS: Backend[] = [
  { name: 'a directory', skip: false, create: async (home, opened) => fileStore(home, opened) },
  {
    name: 'Redis',
    skip: !hasRedis,
    async setup() {
      redis = await startRedis()
    },
    async teardown() {
      await redis?.stop()
    },
    create: redisStore,
  },
]

function keyAccount(id: string): Account {
  return { id, label: `label-${id}`, kind: 'api-key', provider: 'custom', baseUrl: 'https://llm.example.com/v1', apiKey: `sk-${id}-0000`, status: 'ok', createdAt: 1, updatedAt: 1 }
}

/** Makes every stored Qwen login's access token look expired. */
async function expireTokens(ctx: Context): Promise<void> {
  await ctx.accounts.update((doc) => {
    for (const a of doc.accounts) if (a.kind === 'qwen-oauth') a.expiresAt = Date.now() - 60_000
  })
}

/** A refresh request with this refresh token, as another program would send it. */
function refreshGrant(refreshToken: string): Promise<Response> {
  return fetch(`${emu.url}/api/v1/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'f0304373b74a44d2b584a3fb70ca9e56' }),
  })
}

const firstAccount = async (ctx: Context) => (await ctx.accounts.read()).accounts[0]!

beforeAll(async () => {
  emu = await startEmulator({ autoApprove: true, interval: 0.02 })
})
afterAll(() => emu.close())

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(`the store in ${backend.name}`, () => {
    let store: StoreUnderTest
    beforeAll(() => backend.setup?.())
    afterAll(() => backend.teardown?.())
    beforeEach(async (context) => {
      store = await ownStore(context.onTestFinished)
      // One emulator serves both stores: what a test scripted must not reach the next.
      emu.reset()
      emu.setRefreshOmitsRefreshToken(false)
    })

    /**
     * A store of the test's own, closed and removed when the test finishes. Tests that run side
     * by side (the locks) take one each; `store` is the one of a test that runs alone.
     */
    async function ownStore(onTestFinished: (fn: () => Promise<void>) => void): Promise<StoreUnderTest> {
      const temp = tempHome()
      const opened: Context[] = []
      onTestFinished(async () => {
        await Promise.all(opened.map((ctx) => ctx.close()))
        temp.cleanup()
      })
      return backend.create(temp.home, opened)
    }

    /** `qwenauth login` against this store, in this process. */
    const login = async () => {
      const account = await loginInProcess(store.home, emu, store.env)
      emu.reset()
      return account
    }

    describe('accounts', () => {
      it('starts empty; what one context writes, another reads; removal removes', async () => {
        const ctx = store.open()
        expect((await ctx.accounts.read()).accounts).toEqual([])
        const { result } = await ctx.accounts.update((doc) => {
          doc.accounts.push(keyAccount('a'), keyAccount('b'), keyAccount('c'))
          return doc.accounts.length
        })
        expect(result).toBe(3)
        const other = store.open()
        expect((await other.accounts.read()).accounts.map((a) => a.id)).toEqual(['a', 'b', 'c'])
        await other.accounts.remove(['b'])
        expect((await ctx.accounts.read()).accounts).toEqual([keyAccount('a'), keyAccount('c')])
      })

      it('concurrent updates from several contexts are never lost (the store lock)', async () => {
        const contexts = [store.open(), store.open(), store.open()]
        await Promise.all(Array.from({ length: 4 }, (_, i) => contexts[i % 3]!.accounts.update((doc) => void doc.accounts.push(keyAccount(`k${i}`)))))
        expect((await store.open().accounts.read()).accounts.map((a) => a.id).sort()).toEqual(['k0', 'k1', 'k2', 'k3'])
      })

      it('a document that is not JSON is set aside, said in one line, and a fresh one started', async () => {
        const ctx = store.open()
        await ctx.storage.setItemRaw(KEYS.accounts, '{"version":1,"accounts":[{"id":')
        const error = await ctx.accounts.read().then(() => undefined, (e: Error) => e)
        expect(error?.message).toMatch(/not valid JSON; it was moved to qwenauth\/accounts\.json\.corrupt-\d+ and a new one will be started$/)
        expect(error?.message).not.toContain('\n')
        const aside = (await ctx.storage.getKeys('qwenauth')).find((k) => k.startsWith(`${KEYS.accounts}.corrupt-`))!
        expect(await readText(ctx.storage, aside)).toBe('{"version":1,"accounts":[{"id":')
        expect((await ctx.accounts.read()).accounts).toEqual([])
      })

      it(`a login becomes the active account${backend.name === 'Redis' ? '; no file is written' : ' and is mirrored into oauth_creds.json'}`, async () => {
        const account = await login()
        const ctx = store.open()
        expect((await ctx.accounts.read()).accounts.map((a) => a.id)).toEqual([account.id])
        if (store.mirrors) {
          expect(readJsonFile(credsPath(store.home)).access_token).toBe(account.accessToken)
          expect((await ctx.accounts.read()).mirrored).toBe(account.id)
        } else {
          expect(readdirSync(store.home)).toEqual([])
        }
      })
    })

    describe('fresh credentials', () => {
      it('a valid token is handed out as stored, without a refresh', async () => {
        const account = await login()
        expect((await store.open().accounts.fresh(account.id)).accessToken).toBe(account.accessToken)
        expect(emu.stats.refreshAttempts).toBe(0)
      })

      it('an expired token is refreshed once under the lock, for callers in this process and in other contexts alike', async () => {
        const account = await login()
        const contexts = [store.open(), store.open(), store.open()]
        await expireTokens(contexts[0]!)
        const fresh = await Promise.all(Array.from({ length: 12 }, (_, i) => contexts[i % 3]!.accounts.fresh(account.id)))
        expect(new Set(fresh.map((a) => a.accessToken)).size).toBe(1)
        expect(fresh[0]!.accessToken).not.toBe(account.accessToken)
        expect(emu.stats.refreshAttempts).toBe(1)
        const stored = await firstAccount(store.open())
        expect(stored.accessToken).toBe(fresh[0]!.accessToken)
        // Both copies carry the rotated refresh token, so the next refresh still works.
        if (store.mirrors) expect(readJsonFile(credsPath(store.home)).refresh_token).toBe(stored.refreshToken)
        for (const name of [LOCK_NAMES.account(account.id), LOCK_NAMES.creds, LOCK_NAMES.store]) expect(await store.lockOwner(name)).toBeUndefined()
      })

      it('20 concurrent takers (6 `token` processes, 14 contexts in this one) on an expired token refresh exactly once and agree', async () => {
        const account = await login()
        await expireTokens(store.open())
        // Processes for the whole command across processes; contexts (each its own store, as
        // another process would open it) make up the number at a fraction of the cost.
        const contexts = Array.from({ length: 14 }, () => store.open())
        const [results, fresh] = await Promise.all([
          Promise.all(Array.from({ length: 6 }, () => collect(spawnCli(['token'], { home: store.home, env: store.env }), undefined, 60_000))),
          Promise.all(contexts.map((ctx) => ctx.accounts.fresh(account.id))),
        ])
        for (const r of results) expect(r.code, r.stderr).toBe(0)
        const tokens = new Set([...results.map((r) => r.stdout.trim()), ...fresh.map((a) => a.accessToken)])
        expect(tokens.size).toBe(1)
        expect(emu.stats.refreshes).toBe(1)
        expect(emu.stats.refreshAttempts).toBe(1)
        const [token] = [...tokens]
        expect((await fetch(`${emu.url}/v1/models`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
        expect((await firstAccount(store.open())).accessToken).toBe(token)
        if (store.mirrors) {
          expect(readJsonFile(credsPath(store.home)).access_token).toBe(token)
          expect(existsSync(join(store.home, 'oauth_creds.lock'))).toBe(false)
        }
      }, 60_000)

      it('transient refresh failures are retried twice, backing off on the clock; then reported without marking the account', async () => {
        const account = await login()
        const clock = fakeClock()
        const ctx = store.open({ clock })
        await expireTokens(ctx)
        emu.failNextRefreshes(2, 503)
        expect((await ctx.accounts.fresh(account.id)).accessToken).not.toBe(account.accessToken)
        expect(emu.stats.refreshAttempts).toBe(3)
        expect(clock.slept).toEqual([500, 1500])

        await expireTokens(ctx)
        emu.reset()
        emu.failNextRefreshes(3, 500)
        await expect(ctx.accounts.fresh(account.id)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/HTTP 500/) })
        expect(emu.stats.refreshAttempts).toBe(3)
        expect((await firstAccount(ctx)).status).toBe('ok')
      })

      it('a refresh token the server refuses marks the account needs-login, and keeps it', async () => {
        const account = await login()
        const ctx = store.open()
        await expireTokens(ctx)
        // Someone spends the stored refresh token and keeps what they got: the store's copy is dead.
        expect((await refreshGrant(account.refreshToken!)).status).toBe(200)
        await expect(ctx.accounts.fresh(account.id)).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/needs a new login/) })
        const stored = (await store.open().accounts.read()).accounts
        expect(stored.map((a) => [a.id, a.status])).toEqual([[account.id, 'needs-login']])
      })

      it('a refresh answer without a refresh token keeps the old one', async () => {
        const account = await login()
        const ctx = store.open()
        await expireTokens(ctx)
        emu.setRefreshOmitsRefreshToken(true)
        expect((await ctx.accounts.fresh(account.id)).accessToken).not.toBe(account.accessToken)
        expect((await firstAccount(store.open())).refreshToken).toBe(account.refreshToken)
        if (store.mirrors) expect(readJsonFile(credsPath(store.home)).refresh_token).toBe(account.refreshToken)
      })
    })

    describe('usage counters', () => {
      it('counters from several stores add up', async () => {
        const counters = [openStatsStore(store.open(), { flushMs: 20 }), openStatsStore(store.open(), { flushMs: 20 })]
        for (let i = 0; i < 50; i++) for (const c of counters) c.add('acc', { requests: 1, promptTokens: 3, completionTokens: 2 })
        counters[0]!.add('acc', { failures: 1, lastError: { message: 'upstream said no', at: 5 } })
        await Promise.all(counters.map((c) => c.close()))
        const totals = await readAllStats(store.open())
        expect(totals.acc).toMatchObject({ requests: 100, promptTokens: 300, completionTokens: 200, failures: 1, lastError: { message: 'upstream said no', at: 5 } })
      })
    })

    // Nothing here touches the emulator or the process's environment: these wait side by side.
    describe.concurrent('locks', () => {
      it('a lock is held by one taker at a time; only its owner releases it', async ({ onTestFinished }) => {
        const store = await ownStore(onTestFinished)
        const locker = store.locker(5_000)
        const release = (await locker.acquire('some-lock'))!
        const owner = await store.lockOwner('some-lock')
        expect(owner).toBeTruthy()
        await expect(store.locker(5_000).acquire('some-lock', { signal: AbortSignal.timeout(300) })).rejects.toThrow()
        expect(await store.lockOwner('some-lock')).toBe(owner)
        // Taken over (the holder was thought dead): the old holder's release leaves the new owner's lock.
        await store.plantLock('some-lock', 'the-new-owner', 5_000)
        await release()
        expect(await store.lockOwner('some-lock')).toBe('the-new-owner')
      })

      it('a lock whose holder stopped renewing it expires and is taken over', async ({ onTestFinished }) => {
        const store = await ownStore(onTestFinished)
        await store.plantLock('some-lock', 'a-dead-holder', 400)
        const started = Date.now()
        const release = await store.locker(400).acquire('some-lock')
        expect(release).toBeTypeOf('function')
        expect(Date.now() - started).toBeGreaterThanOrEqual(300)
        expect(await store.lockOwner('some-lock')).not.toBe('a-dead-holder')
        await release!()
        expect(await store.lockOwner('some-lock')).toBeUndefined()
      })

      it('a lock held longer than its lifetime is renewed by its holder, not taken over', async ({ onTestFinished }) => {
        const store = await ownStore(onTestFinished)
        const release = (await store.locker(800).acquire('some-lock'))!
        const owner = await store.lockOwner('some-lock')
        await new Promise((r) => setTimeout(r, 1_000))
        await expect(store.locker(800).acquire('some-lock', { signal: AbortSignal.timeout(300) })).rejects.toThrow()
        expect(await store.lockOwner('some-lock')).toBe(owner)
        await release()
      })
    })
  })
}

describe('from the command line', () => {
  it('a corrupt accounts file is one line and exit 1; the next command starts a fresh one', async () => {
    const { home, cleanup } = tempHome()
    try {
      mkdirSync(join(home, 'qwenauth'), { recursive: true })
      writeFileSync(join(home, 'qwenauth', 'accounts.json'), '{"version":1,"accounts":[{"id":')
      const result = await runCli(['status'], { home })
      expect(result.code).toBe(1)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/not valid JSON; it was moved to qwenauth\/accounts\.json\.corrupt-\d+/)
      const aside = readdirSync(join(home, 'qwenauth')).find((f) => f.startsWith('accounts.json.corrupt-'))!
      expect(readFileSync(join(home, 'qwenauth', aside), 'utf8')).toBe('{"version":1,"accounts":[{"id":')
      expect((await runCli(['status'], { home })).code).toBe(0)
    } finally {
      cleanup()
    }
  })
})
