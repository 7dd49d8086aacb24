import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { canOpenBrowser } from '../src/lib/open-browser.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { loginViaEmulator } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { runCliOnPty } from './helpers/pty.ts'

let emu: Emulator
let home: string
let cleanup: () => void
beforeAll(async () => {
  emu = await startEmulator({ autoApprove: true, interval: 0.05, apiKeys: ['sk-served-key-9876'] })
})
afterAll(() => emu.close())
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

/** An OAuth account (active) that the API no longer serves, then a key account that it does. */
async function notServedThenKey(): Promise<{ oauthId: string; keyId: string; oauthToken: string }> {
  await loginViaEmulator(home, emu)
  const added = await runCli(['login', '--provider', `${emu.url}/v1`, '--json'], { home, input: 'sk-served-key-9876' })
  expect(added.code, added.stderr).toBe(0)
  const ctx = createContext({ QWEN_HOME: home })
  const { accounts } = await ctx.accounts.update((doc) => {
    const oauth = doc.accounts.find((a) => a.kind === 'qwen-oauth')!
    Object.assign(oauth, { status: 'not-served', lastError: { message: 'refused after refresh', at: Date.now() } })
  })
  const oauth = accounts.find((a) => a.kind === 'qwen-oauth')!
  return { oauthId: oauth.id, keyId: accounts.find((a) => a.kind === 'api-key')!.id, oauthToken: oauth.accessToken! }
}

describe('which account token, env and exec --direct hand out', () => {
  it('passes over a not-served active account to the first one that serves, and says so', async () => {
    const { oauthId, keyId } = await notServedThenKey()
    const token = await runCli(['token'], { home })
    expect(token.code).toBe(0)
    expect(token.stdout).toBe('sk-served-key-9876\n')
    expect(token.stderr).toContain(`(${oauthId}) is not served: Qwen ended the free OAuth tier on 2026-04-15; using`)
    expect(token.stderr).toContain(`(${keyId}) instead`)

    const env = await runCli(['env', '--shell', 'json'], { home })
    expect(JSON.parse(env.stdout)).toMatchObject({ OPENAI_API_KEY: 'sk-served-key-9876', OPENAI_BASE_URL: `${emu.url}/v1` })
  })

  it('an account named with --account is used as asked, with a warning', async () => {
    const { oauthId, oauthToken } = await notServedThenKey()
    const token = await runCli(['token', '--account', oauthId], { home })
    expect(token.stdout).toBe(`${oauthToken}\n`)
    expect(token.stderr).toMatch(/is not served.*using it because --account names it/)
  })

  it('when no account can serve, token, env and exec --direct exit 10 with one line saying why for each, and hand out nothing', async () => {
    const { oauthId, keyId } = await notServedThenKey()
    const ctx = createContext({ QWEN_HOME: home })
    await ctx.accounts.update((doc) => {
      const key = doc.accounts.find((a) => a.id === keyId)!
      Object.assign(key, { status: 'cooling-down', cooldownUntil: Date.now() + 30 * 60_000, lastError: { message: 'quota exhausted', at: Date.now() } })
    })
    for (const args of [['token'], ['env'], ['exec', '--direct', '--', 'true']]) {
      const result = await runCli(args, { home })
      expect(result.code, args.join(' ')).toBe(10)
      expect(result.stdout).toBe('')
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('[error]'))
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain(`(${oauthId}): not served`)
      expect(errors[0]).toMatch(new RegExp(`\\(${keyId}\\): cooling down for (29|30):\\d\\d after quota exhausted`))
      expect(errors[0]).toMatch(/can serve again in (29|30):\d\d/)
    }
  })

  it('--refresh-margin refreshes a token that would not last long enough', async () => {
    await loginViaEmulator(home, emu)
    emu.reset()
    expect((await runCli(['token', '--refresh-margin', '5m'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })).code).toBe(0)
    expect(emu.stats.refreshes).toBe(0)
    // Tokens last 6 h: a 7 h margin means "refresh now".
    expect((await runCli(['token', '--refresh-margin', '7h'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })).code).toBe(0)
    expect(emu.stats.refreshes).toBe(1)
    expect((await runCli(['token', '--refresh-margin', 'soon'], { home })).code).toBe(2)
  })
})

describe('login on a terminal', () => {
  it('draws a QR code of the URL and a countdown', async () => {
    const result = await runCliOnPty(['login'], {
      home,
      env: { QWENAUTH_OAUTH_URL: emu.url },
      waitFor: 'Waiting for approval',
      answer: '',
      timeoutMs: 15_000,
    })
    expect(result.code, result.stdout).toBe(0)
    // Two QR rows per line in half blocks; a URL this long needs 15+ lines.
    expect(result.stdout.split('\n').filter((line) => /[▀▄█]/.test(line)).length).toBeGreaterThanOrEqual(15)
    expect(result.stdout).toMatch(/Waiting for approval\.\.\. \d+:\d\d left \(Ctrl-C cancels\)/)
    expect(result.stdout).toMatch(/confirm the code: [A-Z0-9]{8}/)
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
