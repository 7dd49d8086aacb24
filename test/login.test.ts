import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { pollForTokens, requestDeviceAuthorization } from '../src/auth/oauth/device-flow.ts'
import { runLogin } from '../src/commands/login.ts'
import { runStatus } from '../src/commands/status.ts'
import { canOpenBrowser } from '../src/lib/open-browser.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, readJsonFile } from './helpers/accounts.ts'
import { collect, runCli, spawnCli, tempHome } from './helpers/cli.ts'
import { fakeClock } from './helpers/fake-clock.ts'
import { inProcess, runInProcess } from './helpers/in-process.ts'

let emu: Emulator
let home: string
let cleanup: () => void

beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
})
afterEach(async () => {
  await emu?.close()
  cleanup()
})

/** `qwenauth login` in this process. */
const login = (argv: string[] = []) => runInProcess(['login', ...argv], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })
const status = async () => (await inProcess({ home }, runStatus)).value!

describe('login (device flow against the emulator)', () => {
  it('without a TTY prints the URL and code on stderr, logs in, and writes both files', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05, nextEmail: 'ada@example.com' })
    const result = await login()
    expect(result.code).toBe(0)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(new RegExp(`${emu.url}/authorize\\?user_code=[A-Z0-9]{8}&client=qwen-code`))
    expect(result.stderr).toMatch(/code: [A-Z0-9]{8}/)
    expect(result.stderr).toContain('ada@example.com')

    // The request the emulator validated strictly (form encoding, client id, scope, PKCE).
    const deviceRequest = emu.oauthRequests.find((r) => r.path.endsWith('/device/code'))!
    expect(deviceRequest.headers['content-type']).toContain('application/x-www-form-urlencoded')
    expect(deviceRequest.headers.accept).toBe('application/json')
    expect(deviceRequest.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)

    const creds = readJsonFile(credsPath(home))
    expect(Object.keys(creds)).toEqual(['access_token', 'refresh_token', 'token_type', 'resource_url', 'expiry_date'])
    expect(creds.token_type).toBe('Bearer')
    expect(creds.resource_url).toBe(emu.url)
    expect(creds.expiry_date).toBeGreaterThan(Date.now() + 5 * 3600_000)

    const doc = readJsonFile(accountsPath(home))
    expect(doc.accounts).toHaveLength(1)
    expect(doc.accounts[0]).toMatchObject({ label: 'ada@example.com', kind: 'qwen-oauth', status: 'ok', baseUrl: `${emu.url}/v1` })
    expect(doc.mirrored).toBe(doc.accounts[0].id)

    expect((await status())[0]).toMatchObject({ label: 'ada@example.com', active: true, status: 'ok', provider: 'qwen-oauth' })
  })

  it('keeps polling through authorization_pending and never polls faster than the interval', async () => {
    const clock = fakeClock()
    emu = await startEmulator({ autoApprove: true, interval: 0.2, now: clock.now })
    emu.queuePollAnswers('authorization_pending', 'authorization_pending')
    const auth = await requestDeviceAuthorization(emu.url, undefined, clock)
    expect((await pollForTokens(emu.url, auth, undefined, clock)).accessToken).toBeTruthy()
    expect(emu.stats.polls).toBe(3)
    expect(clock.slept).toEqual([200, 200, 200])
    const gaps = emu.stats.pollTimes.slice(1).map((t, i) => t - emu.stats.pollTimes[i]!)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(200)
  })

  it('slows down by 5 s after slow_down (RFC 8628), for this and every later poll, and then succeeds', async () => {
    const clock = fakeClock()
    // Scripted answers come first; then the code is approved on the next poll.
    emu = await startEmulator({ autoApprove: true, interval: 0.05, now: clock.now })
    emu.queuePollAnswers('slow_down', 'authorization_pending')
    const auth = await requestDeviceAuthorization(emu.url, undefined, clock)
    expect((await pollForTokens(emu.url, auth, undefined, clock)).accessToken).toBeTruthy()
    expect(clock.slept).toEqual([50, 5050, 5050])
    const [first, second, third] = emu.stats.pollTimes
    expect(second! - first!).toBe(5050)
    expect(third! - second!).toBe(5050)
  })

  it.each([
    ['expired_token', 6, /expired/],
    ['access_denied', 5, /refused/],
    ['unauthorized', 7, /no longer knows this login code/],
  ] as const)('%s ends the login with its own exit code and writes nothing', async (answer, code, message) => {
    emu = await startEmulator({ interval: 0.05 })
    emu.queuePollAnswers(answer)
    const result = await login()
    expect(result.code).toBe(code)
    expect((result.error as Error).message).toMatch(message)
    expect(existsSync(credsPath(home))).toBe(false)
    expect(existsSync(accountsPath(home))).toBe(false)
  })

  it('gives up at the expires_in deadline', async () => {
    const clock = fakeClock()
    emu = await startEmulator({ interval: 0.1, deviceCodeTtl: 1, now: clock.now })
    // The server keeps saying "pending" past the code's lifetime: the client's own deadline ends it.
    emu.queuePollAnswers(...Array<'authorization_pending'>(50).fill('authorization_pending'))
    const started = clock.now()
    const auth = await requestDeviceAuthorization(emu.url, undefined, clock)
    await expect(pollForTokens(emu.url, auth, undefined, clock)).rejects.toMatchObject({ exitCode: 8, message: expect.stringMatching(/expired before it was approved/) })
    // Polled up to the deadline, not past it.
    expect(clock.now() - started).toBe(1000)
    expect(emu.stats.polls).toBe(9)
  })

  it('Ctrl-C cancels cleanly and writes nothing', async () => {
    emu = await startEmulator({ interval: 0.05 })
    const child = spawnCli(['login'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })
    const done = collect(child, undefined, 10_000)
    await emu.waitForDeviceCode(5000)
    child.kill('SIGINT')
    const result = await done
    expect(result.code).toBe(130)
    expect(result.stderr).toMatch(/cancelled/)
    expect(existsSync(credsPath(home))).toBe(false)
    expect(existsSync(accountsPath(home))).toBe(false)
  })

  it('a second login of the same user updates its account instead of adding a twin', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    emu.setNextEmail('same@example.com')
    await login()
    const firstToken = readJsonFile(credsPath(home)).access_token
    emu.setNextEmail('same@example.com')
    await login()
    const doc = readJsonFile(accountsPath(home))
    expect(doc.accounts).toHaveLength(1)
    expect(readJsonFile(credsPath(home)).access_token).not.toBe(firstToken)
  })

  it('another user becomes a second, active account; a failed login keeps both', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    emu.setNextEmail('one@example.com')
    await login()
    emu.setNextEmail('two@example.com')
    await login()
    emu.queuePollAnswers('access_denied')
    expect((await login()).code).toBe(5)
    const doc = readJsonFile(accountsPath(home))
    expect(doc.accounts.map((a: { label: string }) => a.label)).toEqual(['two@example.com', 'one@example.com'])
  })

  it('a login Qwen does not serve is stored not-served behind the accounts that serve, and login says so with exit 11', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05, notServed: true, nextEmail: 'free@example.com', apiKeys: ['sk-served-0123456789'] })
    const key = await inProcess({ home, input: 'sk-served-0123456789' }, () => runLogin({ provider: `${emu.url}/v1` }))
    expect(key.code, key.stderr).toBe(0)
    const result = await login()
    expect(result.code).toBe(11)
    const message = (result.error as Error).message
    expect(message).not.toContain('\n')
    expect(message).toMatch(/^logged in as free@example\.com \(account qwen-\w+\), but Qwen does not serve it \(invalid access token or token expired\): Qwen ended the free OAuth tier on 2026-04-15\. It is stored as not-served/)
    expect(emu.requests.filter((r) => r.path === '/v1/models').map((r) => r.headers['x-dashscope-authtype'])).toContain('qwen-oauth')
    expect((await status()).map((a) => [a.label, a.status, a.active])).toEqual([
      [expect.any(String), 'ok', true],
      ['free@example.com', 'not-served', false],
    ])
    // What token hands out is the served key, with no warning about the new login.
    const token = await runInProcess(['token'], { home })
    expect([token.code, token.stdout, token.stderr]).toEqual([0, 'sk-served-0123456789\n', ''])
  })

  it('with --no-verify, login makes no API request and the new login becomes active as before', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05, notServed: true })
    const result = await login(['--no-verify'])
    expect(result.code, result.stderr).toBe(0)
    expect(emu.requests).toHaveLength(0)
  })

  it('an unreachable OAuth server is one line and exit 4', async () => {
    emu = await startEmulator()
    const url = emu.url
    await emu.close()
    const result = await runCli(['login'], { home, env: { QWENAUTH_OAUTH_URL: url } })
    expect(result.code).toBe(4)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/cannot reach the Qwen OAuth server/)
  })

  it('a store it cannot write to fails at once, before any device-code request (or reading a key)', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    // Unwritable even for root: a part of the path is a file.
    writeFileSync(join(home, 'a-file'), '')
    const unwritable = join(home, 'a-file', 'qwen')
    for (const args of [['login'], ['login', '--provider', `${emu.url}/v1`]]) {
      const result = await runCli(args, { home: unwritable, env: { QWENAUTH_OAUTH_URL: emu.url }, input: 'sk-never-read-1234' })
      expect(result.code, result.stderr).toBe(1)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/cannot use .*a-file.*: a part of the path is a file, not a directory \(ENOTDIR\); check QWEN_HOME/)
      expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
    }
    expect(emu.oauthRequests).toEqual([])
    expect(emu.requests).toEqual([])
  })

  it('writes private files in a private directory', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    await login()
    expect(statSync(home).mode & 0o777).toBe(0o700)
    expect(statSync(credsPath(home)).mode & 0o777).toBe(0o600)
    expect(statSync(accountsPath(home)).mode & 0o777).toBe(0o600)
    expect(statSync(`${home}/qwenauth`).mode & 0o777).toBe(0o700)
    // No temporary or lock files are left behind.
    expect(readdirSync(home).sort()).toEqual(['oauth_creds.json', 'qwenauth'])
  })
})

describe('opening a browser', () => {
  it.each([
    [{ DISPLAY: ':0' }, 'linux', true],
    [{}, 'linux', false],
    [{ DISPLAY: ':0', SSH_CONNECTION: '1.2.3.4 5 6.7.8.9 22' }, 'linux', false],
    [{ DISPLAY: ':0', CI: 'true' }, 'linux', false],
    [{ DISPLAY: ':0', QWENAUTH_NO_BROWSER: '1' }, 'linux', false],
    [{}, 'darwin', true],
    [{ SSH_TTY: '/dev/pts/1' }, 'darwin', false],
  ] as const)('%o on %s → %s', (env, platform, expected) => {
    expect(canOpenBrowser(env as NodeJS.ProcessEnv, platform)).toBe(expected)
  })
})
