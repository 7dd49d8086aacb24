/**
 * Review of the credential core: races that could spend a refresh token twice, lock files left
 * behind, a full disk, and secrets reaching output. Each test fails without the fix it covers.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, promises as fsp, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { postForm } from '../src/auth/oauth/http.ts'
import { verifyApiKey } from '../src/auth/api-key/verify-key.ts'
import { createContext } from '../src/context.ts'
import { tempName } from '../src/store/atomic-write.ts'
import { createFileLocker } from '../src/store/file-lock.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, expireStoredTokens, loginViaEmulator, readJsonFile } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'

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
    writeFileSync(accountsPath(home), JSON.stringify(doc, null, 2))
    emu.reset()

    emu.setRefreshDelay(1500)
    const refreshing = ctxFor().accounts.fresh(idA)
    refreshing.catch(() => {})
    await until(() => emu.stats.refreshAttempts === 1)
    emu.setRefreshDelay(0)
    // A becomes active while its refresh is in flight; then the official CLI refreshes what it got.
    const used = await runCli(['use', idA], { home, env: env() })
    expect(used.code, used.stderr).toBe(0)
    expect(await officialCliRefresh()).toBe(200)

    const account = await refreshing
    expect(account.status).toBe('ok')
    expect(emu.stats.refreshAttempts).toBe(emu.stats.refreshes) // no refresh token was refused
    const token = await runCli(['token'], { home, env: env() })
    expect(token.code, token.stderr).toBe(0)
    expect(token.stdout.trim()).toBe(readJsonFile(credsPath(home)).access_token)
  }, 30_000)

  it('a caller that gives up neither aborts the shared refresh nor fails the other callers', async () => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    emu.reset()
    const id = readJsonFile(accountsPath(home)).accounts[0].id
    const ctx = ctxFor()
    emu.setRefreshDelay(800)
    const gone = new AbortController()
    const first = ctx.accounts.fresh(id, { signal: gone.signal })
    first.catch(() => {})
    await until(() => emu.stats.refreshAttempts === 1)
    const second = ctx.accounts.fresh(id) // joins the refresh the first caller started
    await sleep(150)
    gone.abort(new Error('the client went away'))
    await expect(first).rejects.toThrow(/went away/)
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
    emu.setRefreshDelay(800)
    const refreshing = ctxFor().accounts.fresh(id)
    refreshing.catch(() => {})
    await until(() => emu.stats.refreshAttempts === 1)
    emu.setRefreshDelay(0)
    // Another program spends the same refresh token first and stores what it got.
    const other = await refreshGrant(readJsonFile(credsPath(home)).refresh_token)
    expect(other.status).toBe(200)
    writeCreds(other.body)

    const account = await refreshing
    expect(account.accessToken).toBe(other.body.access_token)
    expect(readJsonFile(accountsPath(home)).accounts[0].status).toBe('ok')
    const token = await runCli(['token'], { home, env: env() })
    expect(token.code, token.stderr).toBe(0)
  })
})

describe('files and directories', () => {
  it('a shared sticky directory used as QWEN_HOME (like /tmp) is not made private; the files are', async () => {
    const shared = join(home, 'shared')
    await fsp.mkdir(shared)
    await fsp.chmod(shared, 0o1777)
    emu.addApiKey('plainkey-0123456789abcdef')
    const login = await runCli(['login', '--provider', `${emu.url}/v1`], { home: shared, input: 'plainkey-0123456789abcdef' })
    expect(login.code, login.stderr).toBe(0)
    await loginViaEmulator(shared, emu)
    expect((await fsp.stat(shared)).mode & 0o7777).toBe(0o1777)
    expect((await fsp.stat(credsPath(shared))).mode & 0o777).toBe(0o600)
    expect((await fsp.stat(accountsPath(shared))).mode & 0o777).toBe(0o600)
    expect((await fsp.stat(join(shared, 'qwenauth'))).mode & 0o777).toBe(0o700)
  })

  it.each(['null', '"text"', '{"version":1,"accounts":[null]}', '{"version":1,"accounts":[{"id":"x"}]}'])(
    'an accounts file that is valid JSON but damaged (%s) is one clear line, for every command',
    async (content) => {
      await fsp.mkdir(join(home, 'qwenauth'), { recursive: true })
      writeFileSync(accountsPath(home), content)
      for (const args of [['status'], ['token'], ['use', 'x'], ['logout', 'x']]) {
        const result = await runCli(args, { home })
        expect(result.code, args.join(' ')).toBe(1)
        expect(result.stderr.trim()).toMatch(/^\[error\] .*accounts\.json is damaged \(not a qwenauth accounts document\)/)
        expect(result.stderr.trim().split('\n')).toHaveLength(1)
      }
    },
  )
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

describe('locks and a full disk', () => {
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
    const started = Date.now()
    const release = await locker.acquire('some-lock')
    expect(Date.now() - started).toBeLessThan(1000)
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
    await sleep(600)
    expect(secondHolds).toBe(false)
    await first.release?.()
    await (await second)?.()
    expect(renames).toBeGreaterThanOrEqual(2)
  })

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
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(() => {})
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

describe('bounded waits', () => {
  it('a refresh against an OAuth server that never answers times out, locks released', async () => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    const silent = await silentServer()
    try {
      const started = Date.now()
      const result = await runCli(['token'], { home, env: { QWENAUTH_OAUTH_URL: silent.url, QWENAUTH_REFRESH_TIMEOUT_MS: '300' } })
      expect(result.code, result.stderr).toBe(4)
      expect(result.stderr).toMatch(/cannot reach the Qwen OAuth server at .*: timed out/)
      expect(Date.now() - started).toBeLessThan(12_000)
      expect(existsSync(join(home, 'oauth_creds.lock'))).toBe(false)
    } finally {
      await silent.close()
    }
  })

  it.each(['notaurl', 'ftp://x'])('QWENAUTH_OAUTH_URL=%s is one line naming the setting, exit 2', async (url) => {
    const result = await runCli(['login'], { home, env: { QWENAUTH_OAUTH_URL: url } })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/not an http\(s\) URL: check QWENAUTH_OAUTH_URL/)
  })

  it('OAuth requests and the key check keep their timeout when the caller passes a signal', async () => {
    const silent = await silentServer()
    try {
      const signal = new AbortController().signal
      await expect(postForm(`${silent.url}/token`, { a: 'b' }, { signal, timeoutMs: 300 })).rejects.toThrow(/timed out/)
      await expect(verifyApiKey(`${silent.url}/v1`, 'key-12345678', { signal, timeoutMs: 300 })).rejects.toThrow(/no answer within 0.3 s/)
    } finally {
      await silent.close()
    }
  })
})

/** An OAuth server that repeats what it was sent in its error messages (some gateways do). */
async function echoingOAuthServer(status: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const form = new URLSearchParams(body)
      if (req.url?.endsWith('/device/code')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ device_code: 'dc-0123456789abcdefXYZ', user_code: 'ABCD1234', verification_uri: 'http://x/authorize', expires_in: 30, interval: 0.05 }))
        return
      }
      res.writeHead(status, { 'content-type': 'application/json' })
      const echoed = [form.get('refresh_token'), form.get('device_code'), form.get('code_verifier')].filter(Boolean).join(' and ')
      res.end(JSON.stringify({ error: 'server_error', error_description: `could not use ${echoed} now` }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) }
}

describe('secrets in output', () => {
  it.each([500, 400])('a refresh error that repeats the refresh token (HTTP %i) never prints it', async (status) => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    const refreshToken = readJsonFile(credsPath(home)).refresh_token
    const echo = await echoingOAuthServer(status)
    try {
      const result = await runCli(['token'], { home, env: { QWENAUTH_OAUTH_URL: echo.url, QWENAUTH_DEBUG: '1' } })
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/could not use/)
      expect(result.stderr + result.stdout).not.toContain(refreshToken)
      for (const args of [['status'], ['status', '--json']]) {
        const shown = await runCli(args, { home })
        expect(shown.stdout).not.toContain(refreshToken)
      }
    } finally {
      await echo.close()
    }
  })

  it('a login error that repeats the device code and PKCE verifier never prints them', async () => {
    const echo = await echoingOAuthServer(500)
    try {
      const result = await runCli(['login'], { home, env: { QWENAUTH_OAUTH_URL: echo.url, QWENAUTH_DEBUG: '1' } })
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/could not use \[redacted\] and \[redacted\] now/)
      expect(result.stderr).not.toContain('dc-0123456789abcdefXYZ')
    } finally {
      await echo.close()
    }
  })

  it('status never shows a key that an upstream error message repeated', async () => {
    const key = 'plainkey-0123456789abcdef'
    emu.addApiKey(key)
    const login = await runCli(['login', '--provider', `${emu.url}/v1`], { home, input: key })
    expect(login.code, login.stderr).toBe(0)
    const doc = readJsonFile(accountsPath(home))
    Object.assign(doc.accounts[0], { status: 'cooling-down', cooldownUntil: Date.now() + 600_000, lastError: { message: `rate limited (too many requests for key ${key})`, at: Date.now() } })
    writeFileSync(accountsPath(home), JSON.stringify(doc, null, 2))
    writeFileSync(join(home, 'qwenauth', 'stats.json'), JSON.stringify({ version: 1, accounts: { [doc.accounts[0].id]: { requests: 1, failures: 1, promptTokens: 0, completionTokens: 0, lastError: { message: `upstream said: bad key ${key}`, at: Date.now() } } } }))
    for (const args of [['status'], ['status', '--json']]) {
      const shown = await runCli(args, { home })
      expect(shown.code, shown.stderr).toBe(0)
      expect(shown.stdout).toMatch(/too many requests for key/)
      expect(shown.stdout).not.toContain(key)
    }
  })
})
