import { existsSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runStatus } from '../src/commands/status.ts'
import { runToken } from '../src/commands/token.ts'
import { LOCK_NAMES } from '../src/lib/paths.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, expireStoredTokens, loginInProcess, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { inProcess, runInProcess } from './helpers/in-process.ts'
import { waitFor } from './helpers/proxy-fixtures.ts'

let emu: Emulator
let home: string
let cleanup: () => void
const env = () => ({ QWENAUTH_OAUTH_URL: emu.url })
/** `qwenauth token` in this process. */
const token = () => runInProcess(['token'], { home, env: env() })

/** Refreshes out of band with the stored refresh token, as the official CLI would. */
async function refreshLikeOfficialCli(): Promise<{ access_token: string; refresh_token: string; expires_in: number }> {
  const creds = readJsonFile(credsPath(home))
  const response = await fetch(`${emu.url}/api/v1/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.refresh_token, client_id: 'f0304373b74a44d2b584a3fb70ca9e56' }),
  })
  expect(response.status).toBe(200)
  return response.json() as never
}

beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
  await loginInProcess(home, emu)
  emu.reset()
})
afterEach(async () => {
  await emu.close()
  cleanup()
})

// What every store does on a refresh (once across callers and processes, retries, a refused or
// omitted refresh token) is in store-contract.test.ts; here, `token` beside the official CLI.
describe('token and refresh', () => {
  it('prints the cached token without refreshing while it is valid', async () => {
    const result = await token()
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${readJsonFile(credsPath(home)).access_token}\n`)
    expect(emu.stats.refreshAttempts).toBe(0)
  })

  it('waits for a lock held by the official CLI and uses the token it wrote', async () => {
    expireStoredTokens(home)
    const lock = join(home, 'oauth_creds.lock')
    writeFileSync(lock, 'some-uuid-of-the-official-cli')
    const done = token()
    // Holding its account lock, qwenauth now waits for the official one (the lock order).
    const id = readJsonFile(accountsPath(home)).accounts[0].id
    await waitFor(() => existsSync(join(home, 'qwenauth', 'locks', `${LOCK_NAMES.account(id)}.lock`)), 10_000, 'the account lock')
    // The "official CLI" refreshes, writes its file, releases its lock.
    const fresh = await refreshLikeOfficialCli()
    writeFileSync(
      credsPath(home),
      JSON.stringify({ access_token: fresh.access_token, refresh_token: fresh.refresh_token, token_type: 'Bearer', resource_url: emu.url, expiry_date: Date.now() + fresh.expires_in * 1000 }, null, 2),
    )
    writeFileSync(lock, '') // touched, then removed: still held until unlinked
    unlinkSync(lock)
    const result = await done
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(fresh.access_token)
    expect(emu.stats.refreshes).toBe(1) // only the official CLI's
    // Our store adopted the rotated refresh token.
    expect(readJsonFile(accountsPath(home)).accounts[0].refreshToken).toBe(fresh.refresh_token)
  })

  it('recovers a stale lock', async () => {
    expireStoredTokens(home)
    const lock = join(home, 'oauth_creds.lock')
    writeFileSync(lock, 'dead-process')
    const old = new Date(Date.now() - 120_000)
    utimesSync(lock, old, old)
    const result = await token()
    expect(result.code, result.stderr).toBe(0)
    expect(emu.stats.refreshes).toBe(1)
    expect(existsSync(lock)).toBe(false)
  })

  it('a refused refresh token marks the account needs-login and keeps it', async () => {
    expireStoredTokens(home)
    await refreshLikeOfficialCli() // rotates: our stored refresh token is now dead
    const result = await token()
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.error).toMatchObject({ message: expect.stringMatching(/needs a new login/) })
    const status = (await inProcess({ home }, runStatus)).value!
    expect(status).toHaveLength(1)
    expect(status[0]!.status).toBe('needs-login')
  })

  it('picks up a refresh the official CLI made on its own', async () => {
    const fresh = await refreshLikeOfficialCli()
    writeFileSync(
      credsPath(home),
      JSON.stringify({ access_token: fresh.access_token, refresh_token: fresh.refresh_token, token_type: 'Bearer', resource_url: emu.url, expiry_date: Date.now() + fresh.expires_in * 1000 }, null, 2),
    )
    emu.reset()
    const result = await inProcess({ home, env: env() }, () => runToken({}))
    expect(result.value).toBe(fresh.access_token)
    expect(emu.stats.refreshAttempts).toBe(0)
    expect(readJsonFile(accountsPath(home)).accounts).toHaveLength(1)
  })
})
