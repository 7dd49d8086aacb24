import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { createRedisBackend } from '../src/store/redis-backend.ts'
import { createRedisLocker, RELEASE_SCRIPT } from '../src/store/redis-lock.ts'
import { createRedisStatsStore } from '../src/store/redis-stats.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { loginViaEmulator } from './helpers/accounts.ts'
import { collect, runCli, spawnCli, tempHome } from './helpers/cli.ts'
import { hasRedis, startRedis, type RedisServer } from './helpers/redis.ts'

let redis: RedisServer
let emu: Emulator
let home: string
let cleanup: () => void
let db = 0

/** Each test gets its own Redis database number, so tests never see each other's keys. */
const storeUrl = () => `${redis.url}/${db}`

describe.skipIf(!hasRedis)('the store on Redis', () => {
  beforeAll(async () => {
    redis = await startRedis()
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
  })
  afterAll(async () => {
    await emu?.close()
    await redis?.stop()
  })
  beforeEach(() => {
    ;({ home, cleanup } = tempHome())
    db++
    emu.reset()
  })
  afterEach(() => cleanup())

  const env = () => ({ QWENAUTH_OAUTH_URL: emu.url, QWENAUTH_STORAGE: storeUrl() })

  it('login writes to Redis, status and token read from it, and no oauth_creds.json is written', async () => {
    const login = await runCli(['login'], { home, env: env() })
    expect(login.code, login.stderr).toBe(0)
    const status = JSON.parse((await runCli(['status', '--json'], { home, env: env() })).stdout)
    expect(status.accounts).toHaveLength(1)
    const token = await runCli(['token'], { home, env: env() })
    expect(token.stdout.trim()).toMatch(/^eyJ/)
    // The directory store stays empty.
    expect((await runCli(['status', '--json'], { home })).stdout).toContain('"accounts": []')
  })

  it('store copy moves accounts from a directory to Redis and back; --storage works as a flag', async () => {
    await loginViaEmulator(home, emu)
    const copy = await runCli(['store', 'copy', '--from', home, '--to', storeUrl()], { home })
    expect(copy.code, copy.stderr).toBe(0)
    const onRedis = JSON.parse((await runCli(['--storage', storeUrl(), 'status', '--json'], { home })).stdout)
    const inDir = JSON.parse((await runCli(['status', '--json'], { home })).stdout)
    expect(onRedis.accounts.map((a: { id: string }) => a.id)).toEqual(inDir.accounts.map((a: { id: string }) => a.id))

    const other = tempHome()
    const back = await runCli(['store', 'copy', '--from', storeUrl(), '--to', other.home], { home })
    expect(back.code, back.stderr).toBe(0)
    const copied = JSON.parse((await runCli(['status', '--json'], { home: other.home })).stdout)
    expect(copied.accounts).toHaveLength(1)
    other.cleanup()
  })

  it('20 concurrent `token` processes on an expired token refresh once under the Redis lock', async () => {
    await runCli(['login'], { home, env: env() })
    const ctx = createContext({ QWENAUTH_STORAGE: storeUrl() })
    await ctx.accounts.update((doc) => {
      for (const a of doc.accounts) a.expiresAt = Date.now() - 60_000
    })
    await ctx.close()
    emu.reset()
    const results = await Promise.all(Array.from({ length: 20 }, () => collect(spawnCli(['token'], { home, env: env() }), undefined, 60_000)))
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1)
    expect(emu.stats.refreshes).toBe(1)
  }, 60_000)

  it('a lock is released only by its owner, and expires when its holder is SIGKILLed', async () => {
    const prefix = `t${db}`
    const holder = spawn(resolve('node_modules/.bin/bun'), ['test/fixtures/hold-redis-lock.ts', storeUrl(), prefix, 'account-x'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, QWENAUTH_REDIS_LOCK_TTL_MS: '1000' },
    })
    await new Promise<void>((r) => holder.stdout!.once('data', () => r()))
    const backend = createRedisBackend(storeUrl(), prefix)
    const client = await backend.client()
    const key = `${prefix}:lock:account-x`
    const owner = await client.get(key)
    expect(owner).toBeTruthy()
    // Held past its TTL: the holder extends it.
    await new Promise((r) => setTimeout(r, 1500))
    expect(await client.get(key)).toBe(owner)

    holder.kill('SIGKILL')
    const started = Date.now()
    const release = await createRedisLocker(backend.client, prefix, 1000).acquire('account-x')
    expect(release).toBeTypeOf('function')
    expect(Date.now() - started).toBeLessThan(3000)
    const mine = await client.get(key)
    expect(mine).not.toBe(owner)
    // A stranger's release (another token) does nothing; ours deletes.
    await client.eval(RELEASE_SCRIPT, 1, key, 'not-the-owner')
    expect(await client.get(key)).toBe(mine)
    await release!()
    expect(await client.get(key)).toBeNull()
    await backend.close()
  })

  it('counters from several stores add up (atomic increments)', async () => {
    const prefix = `s${db}`
    const backends = [createRedisBackend(storeUrl(), prefix), createRedisBackend(storeUrl(), prefix)]
    const stores = backends.map((b) => createRedisStatsStore(b.client, prefix, { flushMs: 50 }))
    for (let i = 0; i < 50; i++) for (const s of stores) s.add('acc', { requests: 1, promptTokens: 3, completionTokens: 2 })
    await Promise.all(stores.map((s) => s.close()))
    const totals = await stores[0]!.read()
    expect(totals.acc).toMatchObject({ requests: 100, promptTokens: 300, completionTokens: 200, failures: 0 })
    await Promise.all(backends.map((b) => b.close()))
  })

  it('an unreachable Redis is one line and exit 4', async () => {
    const result = await runCli(['status'], { home, env: { QWENAUTH_STORAGE: 'redis://127.0.0.1:1/0' } })
    expect(result.code).toBe(4)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/)
  })
})
