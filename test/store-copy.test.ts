/** `store copy`: accounts between stores (directories, Redis), never a spent refresh token over a live one. */
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runStatus } from '../src/commands/status.ts'
import { runStoreCopy } from '../src/commands/store.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { loginInProcess } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { inProcess, runInProcess, succeeded } from './helpers/in-process.ts'
import { hasRedis, startRedis, type RedisServer } from './helpers/redis.ts'

let emu: Emulator
let home: string
let cleanup: () => void
beforeAll(async () => {
  emu = await startEmulator({ autoApprove: true, interval: 0.02 })
})
afterAll(() => emu.close())
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

/** `qwenauth store copy --from … --to …`, in this process. */
const copy = (from: string, to: string) => inProcess({ home }, () => runStoreCopy({ from, to }))
const ids = async (env: Record<string, string>) => succeeded(await inProcess({ home, env }, runStatus)).map((a) => a.id)

describe('store copy', () => {
  it('never overwrites a login whose target copy holds newer tokens (its refresh token rotated)', async () => {
    await loginInProcess(home, emu)
    const other = join(home, 'other')
    expect((await copy(home, other)).code).toBe(0)
    // The other store refreshes: the source now holds a spent refresh token.
    const fresh = await runInProcess(['token', '--refresh-margin', '7h'], { home: other, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(fresh.code, fresh.stderr).toBe(0)
    const again = await copy(home, other)
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/tokens are newer than the source's; kept them/)
    const token = await runInProcess(['token'], { home: other, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(token.stdout).toBe(fresh.stdout)
  })

  describe.skipIf(!hasRedis)('with Redis', () => {
    let redis: RedisServer
    beforeAll(async () => {
      redis = await startRedis()
    })
    afterAll(() => redis?.stop())

    it('moves accounts from a directory to Redis and back; --storage names the store on the command line', async () => {
      const url = `${redis.url}/1`
      await loginInProcess(home, emu)
      const there = await copy(home, url)
      expect(there.code, there.stderr).toBe(0)
      const inDir = await ids({})
      expect(await ids({ QWENAUTH_STORAGE: url })).toEqual(inDir)
      const flag = await runCli(['--storage', url, 'status', '--json'], { home })
      expect(flag.code, flag.stderr).toBe(0)
      expect(JSON.parse(flag.stdout).accounts.map((a: { id: string }) => a.id)).toEqual(inDir)

      const other = join(home, 'other')
      const back = await copy(url, other)
      expect(back.code, back.stderr).toBe(0)
      expect(await ids({ QWEN_HOME: other })).toEqual(inDir)
    })
  })
})
