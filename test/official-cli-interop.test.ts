import { spawn } from 'node:child_process'
import { existsSync, promises as fsp, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest'
import { runToken } from '../src/commands/token.ts'
import { qwenHome } from '../src/lib/paths.ts'
import { parseOfficialCreds } from '../src/store/creds-file.ts'
import { createFileLocker } from '../src/store/file-lock.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, expireStoredTokens, loginInProcess, readJsonFile } from './helpers/accounts.ts'
import { cliEnv, collect, spawnCli, tempHome, type CliResult } from './helpers/cli.ts'
import { execFixture, repoRoot } from './helpers/exec-fixtures.ts'
import { inProcess, succeeded } from './helpers/in-process.ts'
import { lockTries } from './helpers/lock-tries.ts'
import { officialChunk, runOfficialTokenManager, type OfficialResult } from './helpers/official-cli.ts'

/**
 * qwenauth against the official CLI's own token code (@qwen-code/qwen-code 0.24.4, a
 * devDependency): its SharedTokenManager and QwenOAuth2Client run unmodified in separate
 * processes (test/fixtures/official-token-manager.mjs), sharing QWEN_HOME, oauth_creds.json and
 * oauth_creds.lock with `qwenauth token` processes. The emulator rotates refresh tokens, so a
 * second refresh with the same token would be refused (and the official code would then delete
 * oauth_creds.json): one refresh in the emulator's count means the lock really was shared.
 */
let chunk: string
let storageChunk: string
let emu: Emulator
let home: string
let cleanup: () => void
let scratch: string
let netLog: string

beforeAll(() => {
  chunk = officialChunk('var SharedTokenManager = class')
  storageChunk = officialChunk('var Storage = class _Storage')
})

beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
  scratch = mkdtempSync(join(tmpdir(), 'qwenauth-interop-'))
  netLog = join(scratch, 'net.log')
  writeFileSync(netLog, '')
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
  await loginInProcess(home, emu)
  emu.reset()
})
afterEach(async () => {
  await emu.close()
  cleanup()
  rmSync(scratch, { recursive: true, force: true })
})

const official = (options: { startAt?: number; onLockHeld?: () => void } = {}): Promise<OfficialResult> =>
  runOfficialTokenManager({ home, userHome: scratch, emulatorUrl: emu.url, chunk, netLog, ...options })

function qwenauthToken(): Promise<CliResult> {
  return collect(spawnCli(['token'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } }), undefined, 30_000)
}

/**
 * `qwenauth token` run `count` times side by side in this process, each with a store of its own
 * (as separate processes have): they meet the official code only at the files and the lock.
 */
async function qwenauthTokensInProcess(count: number): Promise<string[]> {
  return succeeded(await inProcess({ home, env: { QWENAUTH_OAUTH_URL: emu.url } }, () => Promise.all(Array.from({ length: count }, () => runToken({})))))
}

/** Waits (bounded) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 20))
}

/** Waits (bounded) until the emulator has received `n` refresh requests. */
async function refreshRequestsReached(n: number): Promise<void> {
  await until(() => emu.stats.refreshAttempts >= n)
  expect(emu.stats.refreshAttempts).toBe(n)
}

/** Both files hold `token` and the refresh token that came with it, the lock is gone, nothing left the machine. */
async function expectOneRefreshShared(token: string): Promise<void> {
  expect(emu.stats.refreshAttempts).toBe(1)
  expect(emu.stats.refreshes).toBe(1)
  const creds = readJsonFile(credsPath(home))
  expect(creds.access_token).toBe(token)
  const account = readJsonFile(accountsPath(home)).accounts[0]
  expect(account.accessToken).toBe(token)
  expect(account.refreshToken).toBe(creds.refresh_token)
  const api = await fetch(`${emu.url}/v1/models`, { headers: { Authorization: `Bearer ${token}` } })
  expect(api.status).toBe(200)
  expect(existsSync(join(home, 'oauth_creds.lock'))).toBe(false)
  expect(readFileSync(netLog, 'utf8')).toBe('')
}

describe('qwenauth and the official CLI token manager on one expired login', { timeout: 60_000 }, () => {
  beforeEach(() => expireStoredTokens(home))

  it('started together, three of each refresh exactly once and end with the same token', async () => {
    // A slow token endpoint keeps the first refresher inside the lock while the others arrive.
    emu.setRefreshDelay(600)
    const startAt = Date.now() + 300
    const [officials, ours] = await Promise.all([
      Promise.all([official({ startAt }), official({ startAt }), official({ startAt })]),
      Promise.all([qwenauthToken(), qwenauthToken(), qwenauthToken()]),
    ])
    for (const r of officials) expect(r.code, r.stderr).toBe(0)
    for (const r of ours) expect(r.code, r.stderr).toBe(0)
    const tokens = new Set([...officials.map((r) => r.token), ...ours.map((r) => r.stdout.trim())])
    expect(tokens.size).toBe(1)
    await expectOneRefreshShared([...tokens][0]!)
  })

  it('qwenauth waits for the lock the official code holds and uses the token it wrote', async () => {
    // The official code's refresh is held until qwenauth has found its lock held (or finished).
    const release = emu.holdNextRefresh()
    const first = official()
    await refreshRequestsReached(1)
    const lock = join(home, 'oauth_creds.lock')
    expect(existsSync(lock)).toBe(true)
    const tries = lockTries(lock)
    let oursReturned = false
    const taking = qwenauthTokensInProcess(2).finally(() => (oursReturned = true))
    await until(() => tries() >= 1 || oursReturned)
    release()
    const ours = await taking
    const theirs = await first
    expect(theirs.code, theirs.stderr).toBe(0)
    expect(ours).toEqual([theirs.token, theirs.token])
    await expectOneRefreshShared(theirs.token!)
    expect(readJsonFile(accountsPath(home)).accounts[0].refreshToken).toBe(theirs.refreshToken)
  })

  it('the official code waits for the lock qwenauth holds and uses the token qwenauth wrote', async () => {
    // qwenauth's refresh is held until both official processes have found its lock held (or finished).
    const release = emu.holdNextRefresh()
    const first = qwenauthTokensInProcess(1)
    await refreshRequestsReached(1)
    expect(readFileSync(join(home, 'oauth_creds.lock'), 'utf8')).toMatch(/^[0-9a-f-]{36}$/)
    let waiting = 0
    let theirsReturned = false
    const taking = Promise.all([official({ onLockHeld: () => waiting++ }), official({ onLockHeld: () => waiting++ })]).finally(() => (theirsReturned = true))
    await until(() => waiting === 2 || theirsReturned)
    release()
    const theirs = await taking
    const token = (await first)[0]!
    for (const r of theirs) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.token).toBe(token)
    }
    await expectOneRefreshShared(token)
  })

  it('keeps a held oauth_creds.lock young enough for an older CLI, which breaks locks after 10 s', async () => {
    // 0.24.4 breaks a lock whose mtime is over 35 s old, older releases over 10 s. A slow
    // refresh must never look dead to either, even when timers run late on a busy process.
    // The holder's own timer decides: each 2.5 s of it must bring a touch, however late it runs.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const touches = vi.spyOn(fsp, 'utimes')
    try {
      const release = await createFileLocker(home, 35_000).acquire('oauth_creds')
      const lock = join(home, 'oauth_creds.lock')
      for (let i = 1; i <= 4; i++) {
        vi.advanceTimersByTime(2_500)
        expect(touches.mock.calls.filter(([path]) => path === lock)).toHaveLength(i)
      }
      await release?.()
      vi.advanceTimersByTime(10_000)
      expect(touches.mock.calls.filter(([path]) => path === lock)).toHaveLength(4)
      expect(existsSync(lock)).toBe(false)
    } finally {
      touches.mockRestore()
      vi.useRealTimers()
    }
  })

  it('sends the same refresh request as the official code', async () => {
    const theirs = await official()
    expect(theirs.code, theirs.stderr).toBe(0)
    expireStoredTokens(home)
    await qwenauthTokensInProcess(1)
    const [a, b] = emu.oauthRequests.filter((r) => (r.body as Record<string, string>).grant_type === 'refresh_token')
    expect(a && b).toBeTruthy()
    const shape = (r: NonNullable<typeof a>) => {
      const form = r.body as Record<string, string>
      return {
        path: r.path,
        contentType: r.headers['content-type'],
        accept: r.headers.accept,
        fields: Object.keys(form).sort(),
        grant: form.grant_type,
        client: form.client_id,
      }
    }
    expect(shape(b!)).toEqual(shape(a!))
    // Each used the refresh token of the file as it was then: ours the one the official code wrote.
    expect((b!.body as Record<string, string>).refresh_token).toBe(theirs.refreshToken)
  })
})

describe('the files, read the way the official code reads them', () => {
  it('QWEN_HOME resolves to the same directory (~ expanded, relative to the working directory)', async () => {
    const { Storage } = (await import(storageChunk)) as { Storage: { getGlobalQwenDir(): string } }
    const saved = process.env.QWEN_HOME
    try {
      for (const value of [undefined, '/srv/qwen', 'relative/qwen', '~', '~/.config/qwen']) {
        if (value === undefined) delete process.env.QWEN_HOME
        else process.env.QWEN_HOME = value
        expect(qwenHome({ QWEN_HOME: value }), `QWEN_HOME=${value}`).toBe(Storage.getGlobalQwenDir())
      }
    } finally {
      if (saved === undefined) delete process.env.QWEN_HOME
      else process.env.QWEN_HOME = saved
    }
    expect(qwenHome({ QWEN_HOME: '~/q' })).toBe(join(homedir(), 'q'))
  })

  const valid = { access_token: 'at-1', refresh_token: 'rt-1', token_type: 'Bearer', resource_url: 'portal.qwen.ai', expiry_date: Date.now() + 3600_000 }
  it.each([
    ['a complete file', valid],
    ['no resource_url, an extra field', { ...valid, resource_url: undefined, scope: 'openid' }],
    ['expiry_date 0', { ...valid, expiry_date: 0 }],
    ['expiry_date as a string', { ...valid, expiry_date: String(valid.expiry_date) }],
    ['no token_type', { ...valid, token_type: undefined }],
    ['an empty refresh_token', { ...valid, refresh_token: '' }],
  ])('accepts or ignores oauth_creds.json as the official code does: %s', async (_name, content) => {
    const text = JSON.stringify(content, null, 2)
    writeFileSync(credsPath(home), text, { mode: 0o600 })
    const theirs = await official()
    // Accepted: its token comes back as is. Ignored: "no refresh token", and nothing is sent.
    const officialAccepts = theirs.code === 0 && theirs.token === content.access_token
    if (!officialAccepts) expect(theirs.stderr).toMatch(/NO_REFRESH_TOKEN/)
    expect(parseOfficialCreds(text) !== undefined).toBe(officialAccepts)
    expect(emu.oauthRequests).toHaveLength(0)
  })
})

describe('exec and the official qwen CLI', { timeout: 60_000 }, () => {
  it("keeps qwen on qwenauth when the user's modelProviders has an entry for the same model", async () => {
    writeFileSync(
      join(home, 'settings.json'),
      JSON.stringify({
        modelProviders: { openai: [{ id: 'coder-model', baseUrl: 'http://127.0.0.1:9/v1', envKey: 'OTHER_PROVIDER_KEY' }] },
      }),
    )
    mkdirSync(join(scratch, 'work'))
    const env = cliEnv({
      home,
      env: {
        QWENAUTH_OAUTH_URL: emu.url,
        HOME: scratch,
        PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
        QWEN_USAGE_STATISTICS_ENABLED: 'false',
        // No second start with a larger heap (see exec-qwen-cli.test.ts).
        QWEN_CODE_NO_RELAUNCH: 'true',
        OTHER_PROVIDER_KEY: 'sk-other-provider',
        NODE_OPTIONS: `--require=${execFixture('net-guard.cjs')}`,
        NET_GUARD_LOG: netLog,
      },
    })
    const child = spawn(process.execPath, [inject('nodeCli'), 'exec', '--', 'qwen', '-p', 'hi'], { cwd: join(scratch, 'work'), env, stdio: 'pipe' })
    const result = await collect(child, undefined, 45_000)
    expect(result.stdout, result.stderr).toContain('Hello from the Qwen emulator')
    expect(result.code).toBe(0)
    const token = readJsonFile(accountsPath(home)).accounts[0].accessToken
    const chats = emu.requests.filter((r) => r.path === '/v1/chat/completions')
    expect(chats.length).toBeGreaterThan(0)
    for (const r of chats) expect(r.auth).toBe(token)
    expect(readFileSync(netLog, 'utf8')).toBe('')
  })
})
