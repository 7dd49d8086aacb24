/**
 * A refresh token is spent once and never lost: a refresh in flight while `use` changes the
 * active account or another program refreshes, a caller that gives up, a disk too full to store
 * the answer, and an OAuth server that never answers.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, promises as fsp, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { postForm } from '../src/auth/oauth/http.ts'
import { verifyApiKey } from '../src/auth/api-key/verify-key.ts'
import { createContext } from '../src/context.ts'
import { LOCK_NAMES } from '../src/lib/paths.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, expireStoredTokens, loginViaEmulator, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { fakeClock } from './helpers/fake-clock.ts'
import { runInProcess } from './helpers/in-process.ts'
import { lockTries } from './helpers/lock-tries.ts'

const CLIENT_ID = 'f0304373b74a44d2b584a3fb70ca9e56'

let emu: Emulator
let home: string
let cleanup: () => void
const env = () => ({ QWENAUTH_OAUTH_URL: emu.url })
const ctxFor = () => createContext({ QWEN_HOME: home, QWENAUTH_OAUTH_URL: emu.url })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(20)
  }
}

async function refreshGrant(refreshToken: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${emu.url}/api/v1/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID }),
  })
  return { status: response.status, body: await response.json() }
}

function writeCreds(tokens: { access_token: string; refresh_token: string; expires_in: number }): void {
  const creds = { access_token: tokens.access_token, refresh_token: tokens.refresh_token, token_type: 'Bearer', resource_url: emu.url, expiry_date: Date.now() + tokens.expires_in * 1000 }
  writeFileSync(credsPath(home), JSON.stringify(creds, null, 2))
}

/** The official CLI's refresh (protocol §4): its lock, the file's refresh token, the file rewritten. */
async function officialCliRefresh(): Promise<number> {
  const lock = join(home, 'oauth_creds.lock')
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, randomUUID(), { flag: 'wx' })
      break
    } catch (error) {
      if (attempt >= 100) throw error
      await sleep(100)
    }
  }
  try {
    const { status, body } = await refreshGrant(readJsonFile(credsPath(home)).refresh_token)
    if (status === 200) writeCreds(body)
    return status
  } finally {
    unlinkSync(lock)
  }
}

/** Makes writes of temporary files (every store write) fail as on a full disk; lock files still fit. */
function fillDisk(): () => void {
  const realOpen = fsp.open.bind(fsp)
  const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args)
    if (String(args[0]).endsWith('.tmp')) {
      handle.writeFile = async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }
    }
    return handle
  })
  return () => spy.mockRestore()
}

beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
})
afterEach(async () => {
  vi.restoreAllMocks()
  await emu.close()
  cleanup()
})

describe('refresh races', () => {
  it('`use` during a refresh of that account never hands the official CLI a refresh token being spent', async () => {
    await loginViaEmulator(home, emu) // A
    await loginViaEmulator(home, emu) // B: active, in oauth_creds.json
    const doc = readJsonFile(accountsPath(home))
    const [idB, idA] = doc.accounts.map((a: { id: string }) => a.id)
    expect(doc.mirrored).toBe(idB)
    doc.accounts[1].expiresAt = Date.now() - 60_000
    const spentByTheRefresh: string = doc.accounts[1].refreshToken
    writeFileSync(accountsPath(home), JSON.stringify(doc, null, 2))
    emu.reset()

    const tries = lockTries(join(home, 'qwenauth', 'locks', `${LOCK_NAMES.account(idA)}.lock`))
    const release = emu.holdNextRefresh()
    const refreshing = ctxFor().accounts.fresh(idA)
    refreshing.catch(() => {})
    await until(() => emu.stats.refreshAttempts === 1)
    // A becomes active while its refresh is in flight: the server answers only once `use` has
    // found A's lock held (the first try was the refresh's own), or has returned without it.
    let usedReturned = false
    const using = runInProcess(['use', idA], { home, env: env() }).finally(() => (usedReturned = true))
    await until(() => tries() >= 2 || usedReturned)
    expect(readJsonFile(credsPath(home)).refresh_token).not.toBe(spentByTheRefresh)
    release()
    // Then the official CLI refreshes what it got.
    const used = await using
    expect(used.code, used.stderr).toBe(0)
    expect(await officialCliRefresh()).toBe(200)

    const account = await refreshing
    expect(account.status).toBe('ok')
    expect(emu.stats.refreshAttempts).toBe(emu.stats.refreshes) // no refresh token was refused
    const token = await runInProcess(['token'], { home, env: env() })
    expect(token.code, token.stderr).toBe(0)
    expect(token.stdout.trim()).toBe(readJsonFile(credsPath(home)).access_token)
  }, 30_000)

  it('a caller that gives up neither aborts the shared refresh nor fails the other callers', async () => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    emu.reset()
    const id = readJsonFile(accountsPath(home)).accounts[0].id
    const ctx = ctxFor()
    const release = emu.holdNextRefresh()
    const gone = new AbortController()
    const first = ctx.accounts.fresh(id, { signal: gone.signal })
    first.catch(() => {})
    await until(() => emu.stats.refreshAttempts === 1)
    const second = ctx.accounts.fresh(id) // joins the refresh the first caller started
    await sleep(150)
    gone.abort(new Error('the client went away'))
    await expect(first).rejects.toThrow(/went away/)
    // The server answers the refresh only after the first caller is gone.
    release()
    const account = await second
    expect(account.accessToken).toBe(readJsonFile(credsPath(home)).access_token)
    // The refresh request itself ran to its end: a server may rotate on receipt.
    expect(emu.oauthRequests.filter((r) => r.aborted)).toHaveLength(0)
    expect(emu.stats.refreshes).toBe(1)
  })

  it('a refused refresh token is not a dead login when the store already holds a newer one', async () => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    emu.reset()
    const id = readJsonFile(accountsPath(home)).accounts[0].id
    const release = emu.holdNextRefresh()
    const refreshing = ctxFor().accounts.fresh(id)
    refreshing.catch(() => {})
    await until(() => emu.stats.refreshAttempts === 1)
    // Another program spends the same refresh token first and stores what it got; only then
    // does the server answer ours.
    const other = await refreshGrant(readJsonFile(credsPath(home)).refresh_token)
    expect(other.status).toBe(200)
    writeCreds(other.body)
    release()

    const account = await refreshing
    expect(account.accessToken).toBe(other.body.access_token)
    expect(readJsonFile(accountsPath(home)).accounts[0].status).toBe('ok')
    const token = await runInProcess(['token'], { home, env: env() })
    expect(token.code, token.stderr).toBe(0)
  })
})

describe('a full disk', () => {
  it('a disk too full to store new tokens stops the refresh before the refresh token is spent', async () => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    emu.reset()
    const id = readJsonFile(accountsPath(home)).accounts[0].id
    const ctx = ctxFor()
    const restore = fillDisk()
    await expect(ctx.accounts.fresh(id)).rejects.toThrow(/ENOSPC/)
    restore()
    expect(emu.stats.refreshAttempts).toBe(0)
    // Space is back: the login still works.
    const account = await ctx.accounts.fresh(id)
    expect(account.status).toBe('ok')
    expect(emu.stats.refreshes).toBe(1)
  })
})

/** A server that takes requests and never answers them. */
async function silentServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0
  const server: Server = createServer(() => void requests++)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

describe('an OAuth server that never answers', () => {
  it('a refresh against an OAuth server that never answers times out, locks released', async () => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    const id = readJsonFile(accountsPath(home)).accounts[0].id
    const silent = await silentServer()
    // The context's own settings, as a process started with them has: each request times out
    // after 0.3 s; the waits between the tries go by on the clock.
    const clock = fakeClock()
    const ctx = createContext({ QWEN_HOME: home, QWENAUTH_OAUTH_URL: silent.url, QWENAUTH_REFRESH_TIMEOUT_MS: '300' }, undefined, { clock })
    try {
      await expect(ctx.accounts.fresh(id)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/cannot reach the Qwen OAuth server at .*: timed out/) })
      expect(silent.requests()).toBe(3)
      expect(clock.slept).toEqual([500, 1500])
      expect(existsSync(join(home, 'oauth_creds.lock'))).toBe(false)
      expect(readdirSync(join(home, 'qwenauth', 'locks'))).toEqual([])
    } finally {
      await ctx.close()
      await silent.close()
    }
  })

  it('OAuth requests and the key check keep their timeout when the caller passes a signal', async () => {
    const silent = await silentServer()
    try {
      const signal = new AbortController().signal
      await Promise.all([
        expect(postForm(`${silent.url}/token`, { a: 'b' }, { signal, timeoutMs: 300 })).rejects.toThrow(/timed out/),
        expect(verifyApiKey(`${silent.url}/v1`, 'key-12345678', { signal, timeoutMs: 300 })).rejects.toThrow(/no answer within 0.3 s/),
      ])
    } finally {
      await silent.close()
    }
  })
})
