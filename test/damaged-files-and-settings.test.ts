/**
 * What qwenauth does with a home it did not make or files it did not write: a shared sticky
 * directory stays shared (the files are private), a killed writer's temporary files go, a
 * damaged accounts file and a bad QWENAUTH_OAUTH_URL are one clear error.
 */
import { spawn } from 'node:child_process'
import { promises as fsp, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { QwenauthError } from '../src/lib/errors.ts'
import { tempName } from '../src/store/atomic-write.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, loginViaEmulator } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'

let emu: Emulator
let home: string
let cleanup: () => void
beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
})
afterEach(async () => {
  await emu.close()
  cleanup()
})

describe('files and directories', () => {
  it('a shared sticky directory used as QWEN_HOME (like /tmp) is not made private; the files are', async () => {
    const shared = join(home, 'shared')
    await fsp.mkdir(shared)
    await fsp.chmod(shared, 0o1777)
    emu.addApiKey('plainkey-0123456789abcdef')
    const login = await runInProcess(['login', '--provider', `${emu.url}/v1`], { home: shared, input: 'plainkey-0123456789abcdef' })
    expect(login.code, login.stderr).toBe(0)
    await loginViaEmulator(shared, emu)
    expect((await fsp.stat(shared)).mode & 0o7777).toBe(0o1777)
    expect((await fsp.stat(credsPath(shared))).mode & 0o777).toBe(0o600)
    expect((await fsp.stat(accountsPath(shared))).mode & 0o777).toBe(0o600)
    expect((await fsp.stat(join(shared, 'qwenauth'))).mode & 0o777).toBe(0o700)
  })

  it.each(['null', '"text"', '{"version":1,"accounts":[null]}', '{"version":1,"accounts":[{"id":"x"}]}'])(
    'an accounts file that is valid JSON but damaged (%s) is one clear error, for every command',
    async (content) => {
      await fsp.mkdir(join(home, 'qwenauth'), { recursive: true })
      writeFileSync(accountsPath(home), content)
      for (const args of [['status'], ['token'], ['use', 'x'], ['logout', 'x']]) {
        const result = await runInProcess(args, { home })
        expect(result.code, args.join(' ')).toBe(1)
        expect(result.error).toBeInstanceOf(QwenauthError)
        expect(String((result.error as Error).message)).toMatch(/accounts\.json is damaged \(not a qwenauth accounts document\)/)
      }
    },
  )

  it('a damaged accounts file is one line on stderr from the CLI', async () => {
    await fsp.mkdir(join(home, 'qwenauth'), { recursive: true })
    writeFileSync(accountsPath(home), '{"version":1,"accounts":[null]}')
    const result = await runCli(['status'], { home })
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toMatch(/^\[error\] .*accounts\.json is damaged \(not a qwenauth accounts document\)/)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('temporary files of the atomic writer', () => {
  it('those a killed writer on this machine left are removed the next time the store is written; others stay', async () => {
    const dir = join(home, 'qwenauth')
    await fsp.mkdir(dir, { recursive: true })
    const target = join(dir, 'accounts.json')
    // A writer that ran and is gone, and one that still runs (it may be writing right now).
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => gone.on('exit', resolve))
    const running = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      const left = {
        killed: tempName(target, gone.pid),
        running: tempName(target, running.pid),
        // Another machine sharing the directory: its process ids mean nothing here.
        otherHost: tempName(target, gone.pid).replace(/^(\.accounts\.json\.)[0-9a-f]{8}/, '$100000000'),
        // Named before the host was (`.name.pid.random.tmp`): removed once a minute old.
        unnamedOld: `.accounts.json.${gone.pid}.0123456789ab.tmp`,
        unnamedRecent: `.accounts.json.${gone.pid}.ba9876543210.tmp`,
      }
      for (const name of Object.values(left)) writeFileSync(join(dir, name), '{"refresh_token":"left-behind"}', { mode: 0o600 })
      utimesSync(join(dir, left.unnamedOld), new Date(Date.now() - 120_000), new Date(Date.now() - 120_000))

      await createContext({ QWEN_HOME: home }).accounts.update(() => {})
      const remaining = (await fsp.readdir(dir)).filter((name) => name.endsWith('.tmp')).sort()
      expect(remaining).toEqual([left.otherHost, left.running, left.unnamedRecent].sort())
    } finally {
      running.kill('SIGKILL')
    }
  })
})

describe('settings', () => {
  it.each(['notaurl', 'ftp://x'])('QWENAUTH_OAUTH_URL=%s is one line naming the setting, exit 2', async (url) => {
    const result = await runCli(['login'], { home, env: { QWENAUTH_OAUTH_URL: url } })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/not an http\(s\) URL: check QWENAUTH_OAUTH_URL/)
  })

})
