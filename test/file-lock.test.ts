import { existsSync, lstatSync, lutimesSync, mkdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LOCK_NAMES } from '../src/lib/paths.ts'
import { createFileLocker } from '../src/store/file-lock.ts'
import { tempHome } from './helpers/cli.ts'

let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

describe('file locks', () => {
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
    ;(await locker.acquire(LOCK_NAMES.account('y')))!
    // A holder that was SIGKILLed a moment ago: its file stays, nobody touches it any more.
    writeFileSync(lock, 'killed-holder')
    const started = Date.now()
    const release = await locker.acquire(LOCK_NAMES.account('x'))
    expect(release).toBeTypeOf('function')
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500)
    expect(readFileSync(lock, 'utf8')).not.toBe('killed-holder')
    await release!()
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
      const release = await createFileLocker(home, 1500).acquire(LOCK_NAMES.account('x'))
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
      expect(lstatSync(lockPath()).isFile()).toBe(true)
      // Spinning burns the whole wait in CPU; waiting, a sliver of it.
      const cpu = process.cpuUsage(startedCpu)
      expect((cpu.user + cpu.system) / 1000).toBeLessThan((Date.now() - started) / 2)
      await release!()
    })
  })
})
