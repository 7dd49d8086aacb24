import { beforeEach, describe, expect, it } from 'vitest'
import { runInProcess } from './helpers/in-process.ts'
import { addKeyAccount, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { hasRedis } from './helpers/redis.ts'
import { redisServes, spread, startServes, type RedisServes } from './helpers/serve-instances.ts'

/**
 * Usage counted by three `serve` instances on one Redis sums into one figure per window, and a
 * limit is applied to that shared figure: every instance passes the account over once the
 * instances together reached it.
 */
let fx: ProxyFixture
let shared: RedisServes
const storeUrl = () => shared.storeUrl()

interface StatusEntry {
  id: string
  atLimit: boolean
  usage: Record<string, { requests: number; tokens: number; limits: { requests?: number } }>
}

/** `qwenauth status --json`'s accounts for the test's Redis database, in this process (it is polled). */
async function statusEntries(): Promise<StatusEntry[]> {
  const status = await runInProcess(['status', '--json'], { home: fx.home, env: { QWENAUTH_STORAGE: storeUrl() } })
  expect(status.code, status.stderr).toBe(0)
  return (JSON.parse(status.stdout) as { accounts: StatusEntry[] }).accounts
}

describe.skipIf(!hasRedis)('usage across serve instances on one Redis', () => {
  shared = redisServes()
  beforeEach(() => void (fx = shared.fx))

  it('three instances count into one figure per window, and pass an account over at a limit they reached together', async () => {
    const capped = await addKeyAccount(fx, 'sk-shared-capped-0000000000', 'capped-0001', { limits: [{ window: '5h', unit: 'requests', max: 30 }] })
    const spare = await addKeyAccount(fx, 'sk-shared-spare-0000000000', 'spare-0001')
    // Each instance reads the shared usage back every 200 ms here (1 s by default).
    const instances = await startServes(3, { home: fx.home, env: { QWENAUTH_STORAGE: storeUrl(), QWENAUTH_POOL_REFRESH_MS: '200' }, children: shared.children })

    // One at a time, round the instances: well within a second, each instance has counted only its own.
    const first = await spread(instances, 30, 1)
    expect(first.filter((a) => a.status !== 200)).toEqual([])
    expect(fx.emu.servedCount(capped.apiKey!)).toBe(30)

    // Flushed (every second) to Redis, then read back by every instance (past its 200 ms).
    await waitFor(async () => (await statusEntries())[0]?.usage['5h']?.requests === 30, 8000, 'the 30 requests summed in Redis')
    const [entry] = await statusEntries()
    expect(entry).toMatchObject({ id: capped.id, atLimit: true })
    for (const window of ['5h', 'day', 'week', 'month']) expect(entry?.usage[window]?.requests).toBe(30)
    expect(entry?.usage['5h']?.tokens).toBeGreaterThan(0)

    await new Promise((r) => setTimeout(r, 400))
    const after = await spread(instances, 6, 1)
    expect(after.filter((a) => a.status !== 200)).toEqual([])
    expect(fx.emu.servedCount(capped.apiKey!)).toBe(30)
    expect(fx.emu.servedCount(spare.apiKey!)).toBe(6)
    await waitFor(async () => (await statusEntries())[1]?.usage.day?.requests === 6, 8000, "the spare account's 6 requests")
  }, 60_000)
})
