import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest'
import { runLogin } from '../src/commands/login.ts'
import { createContext } from '../src/context.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { loginInProcess } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { inProcess, runInProcess, succeeded } from './helpers/in-process.ts'

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
  await loginInProcess(home, emu)
  succeeded(await inProcess({ home, input: 'sk-served-key-9876' }, () => runLogin({ provider: `${emu.url}/v1` })))
  const ctx = createContext({ QWEN_HOME: home })
  const { accounts } = await ctx.accounts.update((doc) => {
    const oauth = doc.accounts.find((a) => a.kind === 'qwen-oauth')!
    Object.assign(oauth, { status: 'not-served', lastError: { message: 'refused after refresh', at: Date.now() } })
  })
  const oauth = accounts.find((a) => a.kind === 'qwen-oauth')!
  return { oauthId: oauth.id, keyId: accounts.find((a) => a.kind === 'api-key')!.id, oauthToken: oauth.accessToken! }
}

const run = (argv: string[], env: Record<string, string> = {}) => runInProcess(argv, { home, env })

describe('which account token, env and exec --direct hand out', () => {
  it('passes over a not-served active account to the first one that serves, and says so', async () => {
    const { oauthId, keyId } = await notServedThenKey()
    const token = await run(['token'])
    expect(token.code).toBe(0)
    expect(token.stdout).toBe('sk-served-key-9876\n')
    expect(token.stderr).toContain(`(${oauthId}) is not served: Qwen ended the free OAuth tier on 2026-04-15; using`)
    expect(token.stderr).toContain(`(${keyId}) instead`)

    const env = await run(['env', '--shell', 'json'])
    expect(JSON.parse(env.stdout)).toMatchObject({ OPENAI_API_KEY: 'sk-served-key-9876', OPENAI_BASE_URL: `${emu.url}/v1` })
  })

  it('an account named with --account is used as asked, with a warning', async () => {
    const { oauthId, oauthToken } = await notServedThenKey()
    const token = await run(['token', '--account', oauthId])
    expect(token.stdout).toBe(`${oauthToken}\n`)
    expect(token.stderr).toMatch(/is not served.*using it because --account names it/)
  })

  it('exec through its proxy with --account naming an account that cannot serve says once what happens: the others serve until it can', async () => {
    const { oauthId, keyId } = await notServedThenKey()
    const result = await run(['exec', '--account', oauthId, '--', process.execPath, '-e', ''])
    expect(result.code, result.stderr).toBe(0)
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('[warn]'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`(${oauthId}) is not served`)
    expect(warnings[0]).toMatch(/--account names it: requests go to it once it can serve, to the others meanwhile/)
    expect(result.stderr).not.toContain(`(${keyId})`)
  })

  it('when no account can serve, token, env and exec --direct exit 10 with one line saying why for each, and hand out nothing', async () => {
    const { oauthId, keyId } = await notServedThenKey()
    const ctx = createContext({ QWEN_HOME: home })
    await ctx.accounts.update((doc) => {
      const key = doc.accounts.find((a) => a.id === keyId)!
      Object.assign(key, { status: 'cooling-down', cooldownUntil: Date.now() + 30 * 60_000, lastError: { message: 'quota exhausted', at: Date.now() } })
    })
    const expectWhy = (line: string | undefined) => {
      expect(line).toContain(`(${oauthId}): not served`)
      expect(line).toMatch(new RegExp(`\\(${keyId}\\): cooling down for (29|30):\\d\\d after quota exhausted`))
      expect(line).toMatch(/can serve again in (29|30):\d\d/)
    }
    // As a process: the exit code, nothing on stdout, and the reason as the one error line.
    const process = await runCli(['token'], { home })
    expect(process.code).toBe(10)
    expect(process.stdout).toBe('')
    const errors = process.stderr.split('\n').filter((l) => l.startsWith('[error]'))
    expect(errors).toHaveLength(1)
    expectWhy(errors[0])
    for (const args of [['token'], ['env'], ['exec', '--direct', '--', 'true']]) {
      const result = await run(args)
      expect(result.code, args.join(' ')).toBe(10)
      expect(result.stdout).toBe('')
      const message = (result.error as Error).message
      expect(message).not.toContain('\n')
      expectWhy(message)
    }
  })

  it('an unknown account is a usage error (exit 2) naming it, in one line', async () => {
    await notServedThenKey()
    const result = await run(['token', '--account', 'nope'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect((result.error as Error).message).toMatch(/^no account "nope"[^\n]*$/)
  })

  it('with no accounts, token exits 3 and says how to log in', async () => {
    const result = await run(['token'])
    expect(result.code).toBe(3)
    expect((result.error as Error).message).toMatch(/qwenauth login/)
  })

  it('--refresh-margin refreshes a token that would not last long enough', async () => {
    await loginInProcess(home, emu)
    emu.reset()
    const env = { QWENAUTH_OAUTH_URL: emu.url }
    expect((await run(['token', '--refresh-margin', '5m'], env)).code).toBe(0)
    expect(emu.stats.refreshes).toBe(0)
    // Tokens last 6 h: a 7 h margin means "refresh now".
    expect((await run(['token', '--refresh-margin', '7h'], env)).code).toBe(0)
    expect(emu.stats.refreshes).toBe(1)
    expect((await run(['token', '--refresh-margin', 'soon'])).code).toBe(2)
  })
})
