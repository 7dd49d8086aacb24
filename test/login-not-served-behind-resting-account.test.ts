import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runLogin } from '../src/commands/login.ts'
import { createContext } from '../src/context.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { inProcess, runInProcess } from './helpers/in-process.ts'

/**
 * README: a login Qwen does not serve is "kept, marked `not-served` and placed behind every
 * account that can serve" ("never in front of a working account"). save-login.ts puts it in
 * front of the first account that is not `ok` right now, so a working key account that happens
 * to rest for a cooldown (a 429 a minute ago) is pushed to second place: the refused login
 * becomes the active account (`*` in `status`, what `use` would have chosen) and stays in front
 * once the cooldown is over.
 */
let emu: Emulator
let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(async () => {
  await emu?.close()
  cleanup()
})

describe('a login Qwen does not serve, beside a served account that is resting', () => {
  it('goes behind the resting key account, which stays the active one', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.02, notServed: true, nextEmail: 'free@example.com', apiKeys: ['sk-served-resting-0123456789'] })
    const key = await inProcess({ home, input: 'sk-served-resting-0123456789' }, () => runLogin({ provider: `${emu.url}/v1` }))
    expect(key.code, key.stderr).toBe(0)
    // The proxy rested it a moment ago after a 429 (a rate limit: a minute).
    await createContext({ QWEN_HOME: home }).accounts.update((doc) => {
      Object.assign(doc.accounts[0]!, { status: 'cooling-down', cooldownUntil: Date.now() + 60_000, lastError: { message: 'rate limited', at: Date.now(), code: 'rate_limited' } })
    })

    const login = await runInProcess(['login'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(login.code).toBe(11)
    const accounts = readJsonFile(accountsPath(home)).accounts as Array<{ kind: string; status: string }>
    expect(accounts.map((a) => [a.kind, a.status])).toEqual([
      ['api-key', 'cooling-down'],
      ['qwen-oauth', 'not-served'],
    ])
  })

  it('still goes in front of an account that cannot serve until its owner acts (needs-login)', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.02, notServed: true, nextEmail: 'free@example.com', apiKeys: ['sk-served-resting-0123456789', 'sk-refused-later-0123456789'] })
    for (const key of ['sk-served-resting-0123456789', 'sk-refused-later-0123456789']) {
      const added = await inProcess({ home, input: key }, () => runLogin({ provider: `${emu.url}/v1`, label: key.slice(3, 9) }))
      expect(added.code, added.stderr).toBe(0)
    }
    await createContext({ QWEN_HOME: home }).accounts.update((doc) => {
      Object.assign(doc.accounts[0]!, { status: 'cooling-down', cooldownUntil: Date.now() + 60_000 })
      Object.assign(doc.accounts[1]!, { status: 'needs-login', lastError: { message: 'the provider refused the key', at: Date.now(), code: 'key_refused' } })
    })

    const login = await runInProcess(['login'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(login.code).toBe(11)
    const accounts = readJsonFile(accountsPath(home)).accounts as Array<{ kind: string; status: string }>
    expect(accounts.map((a) => [a.kind, a.status])).toEqual([
      ['api-key', 'cooling-down'],
      ['qwen-oauth', 'not-served'],
      ['api-key', 'needs-login'],
    ])
  })
})
