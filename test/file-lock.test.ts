import { existsSync, lstatSync, lutimesSync, mkdirSync, promises as fsp, readFileSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createContext } from '../src/context.ts'
import { LOCK_NAMES } from '../src/lib/paths.ts'
import { createFileLocker } from '../src/store/file-lock.ts'
import { LOCK_RETRY, retryDelay } from '../src/store/locker.ts'
import { tempHome } from './helpers/cli.ts'

let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => {
  vi.restoreAllMocks()
  cleanup()
})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(20)
  }
}

describe('file locks', () => {
  it("a context's own QWENAUTH_LOCK_STALE_MS decides when a lock is stale, not the process's", async () => {
    const ctx = createContext({ QWEN_HOME: home, QWENAUTH_LOCK_STALE_MS: '500' })
    const lock = join(home, 'qwenauth', 'locks', 'left-behind.lock')
    mkdirSync(join(home, 'qwenauth', 'locks'), { recursive: true })
    writeFileSync(lock, 'a holder that was killed')
    const aSecondAgo = new Date(Date.now() - 1000)
    utimesSync(lock, aSecondAgo, aSecondAgo)
    // Stale at 500 ms: taken over at once. Under the default 35 s it would still be waited on.
    const release = await ctx.locker.acquire('left-behind', { signal: AbortSignal.timeout(3000) })
    expect(release).toBeTypeOf('function')
    await release?.()
    await ctx.close()
  })

  it('a held oauth_creds.lock that the official CLI deletes on its exit is put back', async () => {
    // qwen-code 0.24.4 unlinks oauth_creds.lock in its exit handler, held or not.
    const release = await createFileLocker(home, 1000).acquire(LOCK_NAMES.creds)
    const lock = join(home, 'oauth_creds.lock')
    const owner = readFileSync(lock, 'utf8')
    unlinkSync(lock)
    const content = () => (existsSync(lock) ? readFileSync(lock, 'utf8') : undefined)
    const deadline = Date.now() + 3000
    while (content() !== owner && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(content()).toBe(owner)
    await release!()
    expect(existsSync(lock)).toBe(false)
  })

  it('one of our own locks left by a killed holder is taken over once it goes stale', async () => {
    const locker = createFileLocker(home, 3000)
    const lock = join(home, 'qwenauth', 'locks', `${LOCK_NAMES.account('x')}.lock`)
    // (Made the locks directory; released at the end, or its heartbeat would outlive the test.)
    const releaseY = (await locker.acquire(LOCK_NAMES.account('y')))!
    // A holder that was SIGKILLed 2.7 s ago: its file stays, nobody touches it any more.
    writeFileSync(lock, 'killed-holder')
    const killedAt = new Date(Date.now() - 2700)
    utimesSync(lock, killedAt, killedAt)
    const started = Date.now()
    const release = await locker.acquire(LOCK_NAMES.account('x'))
    expect(release).toBeTypeOf('function')
    // Not before it went stale (3 s after its last touch).
    expect(Date.now() - started).toBeGreaterThanOrEqual(200)
    expect(readFileSync(lock, 'utf8')).not.toBe('killed-holder')
    await release!()
    await releaseY()
  }, 20_000)

  // A dangling symlink made `open(wx)` fail with EEXIST while `stat` found nothing: the stale
  // check reported the lock removed and the loop tried again at once, at 97 % CPU, for ever on
  // the creds lock, for 45 s on the store lock.
  describe('a dangling symlink at a lock path', () => {
    const lockPath = () => join(home, 'qwenauth', 'locks', `${LOCK_NAMES.account('x')}.lock`)
    const plantLink = (ageMs: number) => {
      mkdirSync(join(home, 'qwenauth', 'locks'), { recursive: true })
      symlinkSync(join(home, 'nowhere'), lockPath())
      const then = new Date(Date.now() - ageMs)
      lutimesSync(lockPath(), then, then)
    }

    it('an old one is taken over at once, as any stale lock', async () => {
      plantLink(60_000)
      const release = await createFileLocker(home, 1000).acquire(LOCK_NAMES.account('x'))
      expect(lstatSync(lockPath()).isFile()).toBe(true)
      expect(existsSync(join(home, 'nowhere'))).toBe(false)
      await release!()
    })

    it('a fresh one is waited on (not spun on) until it goes stale, then taken over', async () => {
      plantLink(0)
      const startedCpu = process.cpuUsage()
      const started = Date.now()
      const release = await createFileLocker(home, 800).acquire(LOCK_NAMES.account('x'))
      expect(Date.now() - started).toBeGreaterThanOrEqual(600)
      expect(lstatSync(lockPath()).isFile()).toBe(true)
      // Spinning burns the whole wait in CPU; waiting, a sliver of it.
      const cpu = process.cpuUsage(startedCpu)
      expect((cpu.user + cpu.system) / 1000).toBeLessThan((Date.now() - started) / 2)
      await release!()
    })
  })

  it('a lock file whose write failed is removed, so the next taker does not wait for it to go stale', async () => {
    const locker = createFileLocker(home)
    const realOpen = fsp.open.bind(fsp)
    vi.spyOn(fsp, 'open').mockImplementationOnce(async (...args: Parameters<typeof fsp.open>) => {
      const handle = await realOpen(...args)
      handle.writeFile = async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }
      return handle
    })
    await expect(locker.acquire('some-lock')).rejects.toThrow(/ENOSPC/)
    vi.restoreAllMocks()
    expect(existsSync(join(home, 'qwenauth', 'locks', 'some-lock.lock'))).toBe(false)
    const release = await locker.acquire('some-lock')
    await release?.()
  })

  it('two waiters taking over one stale lock never both hold it', async () => {
    const lock = join(home, 'qwenauth', 'locks', 'some-lock.lock')
    await fsp.mkdir(join(home, 'qwenauth', 'locks'), { recursive: true })
    writeFileSync(lock, 'dead-process')
    const old = new Date(Date.now() - 120_000)
    utimesSync(lock, old, old)
    // Both waiters see the stale lock; the second is slow to rename it, until the first holds a fresh one.
    const realRename = fsp.rename.bind(fsp)
    let renames = 0
    vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      if (String(from) === lock && ++renames === 2) await until(() => existsSync(lock) && readFileSync(lock, 'utf8') !== 'dead-process', 5000)
      return realRename(from, to)
    })
    const waiters = [createFileLocker(home).acquire('some-lock'), createFileLocker(home).acquire('some-lock')]
    const first = await Promise.race(waiters.map((w, i) => w.then((release) => ({ i, release }))))
    let secondHolds = false
    const second = waiters[1 - first.i]!.then((release) => {
      secondHolds = true
      return release
    })
    // Had the second taken the lock it moved aside, it would hold it within milliseconds.
    await sleep(300)
    expect(secondHolds).toBe(false)
    await first.release?.()
    await (await second)?.()
    expect(renames).toBeGreaterThanOrEqual(2)
  })
})

describe('lock waits (file and Redis locks alike)', () => {
  // Waiters that started together (contexts of one process, processes started at once) and wait
  // the same schedule wake at the same moment: one takes the lock, the others find it held and
  // wait a whole round again, so one waiter gets through per round. 14 contexts behind one store
  // lock took 15 s so, one every 2 s (store-contract's 20 takers, now and then).
  it('each wait is spread around the schedule, so waiters that started together do not retry in step', () => {
    for (const attempt of [0, 4, LOCK_RETRY.tries - 1]) {
      const scheduled = Math.min(LOCK_RETRY.firstDelayMs * LOCK_RETRY.factor ** attempt, LOCK_RETRY.maxDelayMs)
      const waits = Array.from({ length: 50 }, () => retryDelay(attempt))
      expect(new Set(waits).size).toBeGreaterThan(40)
      for (const wait of waits) {
        expect(wait).toBeGreaterThanOrEqual(scheduled * 0.75)
        expect(wait).toBeLessThanOrEqual(scheduled * 1.25)
      }
    }
  })
})
