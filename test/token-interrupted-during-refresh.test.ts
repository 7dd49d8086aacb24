import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { accountsPath, readJsonFile } from './helpers/accounts.ts'
import { collect, spawnCli, tempHome, type CliResult } from './helpers/cli.ts'
import { hasRedis, startRedis } from './helpers/redis.ts'

/**
 * Qwen's refresh tokens rotate: the server spends the old one when it takes the request, and the
 * new one exists only in its answer. account-store.ts says so itself ("nor cut a refresh request
 * the server may already have acted on (the rotated refresh token would be lost with the
 * answer)") and never ties a refresh to a caller's signal. But `qwenauth token` (and `env`,
 * `exec --direct`) stops waiting on Ctrl-C/SIGTERM and the CLI exits at once, cutting that very
 * request: the store keeps the spent refresh token and the login is dead (`needs-login` at the
 * next refresh). A `timeout 5 qwenauth token` in a script, or a CI job cancelled, does the same.
 */
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo()
})

const issued = { access_token: 'at-rotated-2222222222', refresh_token: 'rt-rotated-2222222222', token_type: 'Bearer', expires_in: 21600 }

/** An OAuth server that takes a refresh (committing the rotation) and answers only when told. */
async function slowOAuthServer(): Promise<{ url: string; arrived: Promise<void>; answer: () => void; requests: () => number }> {
  let held: ServerResponse | undefined
  let requests = 0
  let refreshArrived!: () => void
  const arrived = new Promise<void>((resolve) => (refreshArrived = resolve))
  const server = createServer((req, res) => {
    requests++
    req.resume()
    req.on('end', () => {
      // The server commits the rotation as it takes the request; its answer comes later.
      held = res
      refreshArrived()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  const answer = () => {
    if (!held || held.destroyed) return
    held.writeHead(200, { 'content-type': 'application/json' })
    held.end(JSON.stringify(issued))
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrived, answer, requests: () => requests }
}

/** One Qwen OAuth account whose token has expired, so `token` refreshes it. */
async function storeExpiredAccount(env: Record<string, string>): Promise<void> {
  const ctx = createContext(env)
  const now = Date.now()
  await ctx.accounts.update((doc) => {
    doc.accounts.push({ id: 'qwen-0badcafe', label: 'ada@example.com', kind: 'qwen-oauth', provider: 'qwen-oauth', baseUrl: 'https://portal.qwen.ai/v1', accessToken: 'at-expired-1111111111', refreshToken: 'rt-spent-by-the-server-1111', tokenType: 'Bearer', resourceUrl: 'portal.qwen.ai', expiresAt: now - 60_000, status: 'ok', createdAt: now, updatedAt: now })
  })
  await ctx.close()
}

async function storedRefreshToken(env: Record<string, string>): Promise<string | undefined> {
  const ctx = createContext(env)
  try {
    return (await ctx.accounts.read()).accounts[0]?.refreshToken
  } finally {
    await ctx.close()
  }
}

/** `qwenauth token` (or `args`) sent `signal` while the server holds its refresh; the server answers later. */
async function interruptedToken(signal: NodeJS.Signals | NodeJS.Signals[], env: Record<string, string> = {}, args = ['token']): Promise<CliResult & { home: string }> {
  const { home, cleanup } = tempHome()
  cleanups.push(cleanup)
  const oauth = await slowOAuthServer()
  await storeExpiredAccount({ QWEN_HOME: home, ...env })
  const child = spawnCli(args, { home, env: { QWENAUTH_OAUTH_URL: oauth.url, ...env } })
  const done = collect(child, undefined, 20_000)
  await oauth.arrived
  for (const one of [signal].flat()) child.kill(one)
  // The answer goes out once the CLI has reacted to the signal (it says it is finishing the
  // refresh, or it exits), or after a second at the latest: a CLI that waits for its refresh
  // without a word gets it then.
  let stderr = ''
  child.stderr?.on('data', (d: Buffer | string) => (stderr += String(d)))
  await Promise.race([
    new Promise((resolve) => child.once('exit', resolve)),
    new Promise((resolve) => {
      const check = () => (/finishing a token refresh|cancel/i.test(stderr) ? resolve(undefined) : undefined)
      child.stderr?.on('data', check)
    }),
    new Promise((resolve) => setTimeout(resolve, 1000)),
  ])
  oauth.answer()
  return { ...(await done), home }
}

describe('qwenauth token interrupted while it refreshes', () => {
  it('stores the rotated refresh token the server already issued before it exits', async () => {
    const { home, code, stdout, stderr } = await interruptedToken('SIGINT')
    const stored = (readJsonFile(accountsPath(home)).accounts as Array<{ refreshToken: string }>)[0]
    expect(stored?.refreshToken).toBe('rt-rotated-2222222222')
    // Still a cancel: no token on stdout, exit 130, and a line saying why it did not end at once.
    expect(code).toBe(130)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/finishing a token refresh .*so the login is kept; Ctrl-C again exits at once/)
    expect(stderr).toMatch(/cancelled/)
  })

  it.each<[NodeJS.Signals, string, number]>([
    ['SIGTERM', 'a cancelled CI job, `timeout`', 143],
    ['SIGHUP', 'the terminal or SSH session closed', 129],
  ])('does the same on %s (%s), exiting %i', async (signal, _why, exitCode) => {
    const { home, code, stdout } = await interruptedToken(signal)
    const stored = (readJsonFile(accountsPath(home)).accounts as Array<{ refreshToken: string }>)[0]
    expect(stored?.refreshToken).toBe('rt-rotated-2222222222')
    expect(code).toBe(exitCode)
    expect(stdout).toBe('')
  })

  it('does the same when a session ends with SIGTERM and SIGHUP at once (logind, systemd SendSIGHUP): one stop, not a second signal', async () => {
    const { home, code, stdout } = await interruptedToken(['SIGTERM', 'SIGHUP'])
    const stored = (readJsonFile(accountsPath(home)).accounts as Array<{ refreshToken: string }>)[0]
    expect(stored?.refreshToken).toBe('rt-rotated-2222222222')
    // The kernel delivers pending signals lowest number first: either may be the one reported.
    expect([129, 143]).toContain(code)
    expect(stdout).toBe('')
  })

  it('does the same for `env`, which refreshes the same way', async () => {
    const { home, code, stdout } = await interruptedToken('SIGINT', {}, ['env'])
    const stored = (readJsonFile(accountsPath(home)).accounts as Array<{ refreshToken: string }>)[0]
    expect(stored?.refreshToken).toBe('rt-rotated-2222222222')
    expect(code).toBe(130)
    expect(stdout).toBe('')
  })

  it('a second Ctrl-C exits at once, without waiting for the answer', async () => {
    const { home, cleanup } = tempHome()
    cleanups.push(cleanup)
    const oauth = await slowOAuthServer()
    await storeExpiredAccount({ QWEN_HOME: home })
    const child = spawnCli(['token'], { home, env: { QWENAUTH_OAUTH_URL: oauth.url } })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer | string) => (stderr += String(d)))
    const done = collect(child, undefined, 20_000)
    await oauth.arrived
    child.kill('SIGINT')
    await new Promise<void>((resolve) => child.stderr?.on('data', () => (/finishing a token refresh/.test(stderr) ? resolve() : undefined)))
    child.kill('SIGINT')
    // The server never answers before the CLI is gone.
    const { code } = await done
    oauth.answer()
    expect(code).toBe(130)
  })

  it('waits no longer than the refresh timeout, and sends no retry once it is exiting', async () => {
    const { home, cleanup } = tempHome()
    cleanups.push(cleanup)
    const oauth = await slowOAuthServer()
    await storeExpiredAccount({ QWEN_HOME: home })
    // The server never answers: the request times out (after 0.5 s here), which would normally be retried.
    const child = spawnCli(['token'], { home, env: { QWENAUTH_OAUTH_URL: oauth.url, QWENAUTH_REFRESH_TIMEOUT_MS: '500' } })
    const done = collect(child, undefined, 20_000)
    await oauth.arrived
    child.kill('SIGINT')
    const { code, stdout } = await done
    expect(code).toBe(130)
    expect(stdout).toBe('')
    expect(oauth.requests()).toBe(1)
  })

  describe.skipIf(!hasRedis)('on a Redis store', () => {
    it('stores the rotated refresh token before the connection is closed', async () => {
      const redis = await startRedis()
      cleanups.push(() => redis.stop())
      const env = { QWENAUTH_STORAGE: redis.url }
      const { code } = await interruptedToken('SIGINT', env)
      expect(code).toBe(130)
      expect(await storedRefreshToken(env)).toBe('rt-rotated-2222222222')
    })
  })
})
