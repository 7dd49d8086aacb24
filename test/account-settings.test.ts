/**
 * What an account's owner sets beside the credential: limits (`--limit` at login and with
 * `edit`, the plans' presets), the monthly reset day, a fixed User-Agent; and `edit` refusing
 * what makes no sense with one line and exit 2.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { parseLimitFlags } from '../src/pool/limits.ts'
import { applyLimitEdits } from '../src/store/account-settings.ts'
import type { QuotaLimit } from '../src/store/account-model.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { runCli, tempHome, type CliOptions, type CliResult } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'

describe('--limit values', () => {
  it.each<[string[], string, QuotaLimit[] | undefined]>([
    [['5h=1200', 'week=9000'], 'coding-plan', [{ window: '5h', unit: 'requests', max: 1200 }, { window: 'week', unit: 'requests', max: 9000 }]],
    [['month-tokens=50M,day=2k'], 'custom', [{ window: 'day', unit: 'requests', max: 2000 }, { window: 'month', unit: 'tokens', max: 50_000_000 }]],
    [['pro'], 'coding-plan', [{ window: 'month', unit: 'requests', max: 90_000 }]],
    [['lite', '5h=1200'], 'coding-plan-intl', [{ window: '5h', unit: 'requests', max: 1200 }, { window: 'month', unit: 'requests', max: 18_000 }]],
    [['free'], 'openrouter', [{ window: 'minute', unit: 'requests', max: 20 }, { window: 'day', unit: 'requests', max: 50 }]],
    [['free-credits'], 'openrouter', [{ window: 'minute', unit: 'requests', max: 20 }, { window: 'day', unit: 'requests', max: 1000 }]],
    [['week=100', 'week=200'], 'custom', [{ window: 'week', unit: 'requests', max: 200 }]],
    [['week=100', 'week=none'], 'custom', undefined],
    [['week=100', 'none', 'day=5'], 'custom', [{ window: 'day', unit: 'requests', max: 5 }]],
  ])('%j on %s', (values, provider, expected) => {
    expect(applyLimitEdits(undefined, parseLimitFlags(values, provider))).toEqual(expected)
  })

  it.each<[string[], string, string]>([
    [['hour=5'], 'custom', '--limit wants window=count with a window of minute, 5h, day, week, month'],
    [['week=0'], 'custom', '--limit week wants a whole number above 0'],
    [['week=lots'], 'custom', '--limit week wants a whole number above 0 (1200, 9k, 50M) or none, got "lots"'],
    [['pro'], 'openrouter', 'or a preset of this provider (free, free-credits); got "pro"'],
    [['free'], 'custom', 'none; got "free"'],
  ])('%j on %s is refused', (values, provider, message) => {
    expect(() => parseLimitFlags(values, provider)).toThrow(message)
  })
})

describe('login and edit', () => {
  const KEY = 'sk-settings-key-1234'
  let emu: Emulator
  let home: string
  let cleanup: () => void
  beforeAll(async () => {
    emu = await startEmulator({ apiKeys: [KEY] })
  })
  afterAll(() => emu.close())
  beforeEach(() => {
    ;({ home, cleanup } = tempHome())
    emu.reset()
  })
  afterEach(() => cleanup())

  /** `qwenauth <args>` in this process; an error it throws reads as the line the CLI would print. */
  const cli = async (args: string[], options: Partial<CliOptions> = {}): Promise<CliResult> => {
    const result = await runInProcess(args, { home, ...options })
    const line = result.error === undefined ? '' : `[error] ${result.error instanceof Error ? result.error.message : String(result.error)}\n`
    return { code: result.code, signal: null, stdout: result.stdout, stderr: result.stderr + line }
  }
  const stored = (): Array<Record<string, unknown>> => {
    const file = join(home, 'qwenauth', 'accounts.json')
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { accounts: Array<Record<string, unknown>> }).accounts : []
  }

  it('login --limit, --reset-day and --user-agent store them with the key account; edit changes them', async () => {
    const login = await cli(['login', '--provider', `${emu.url}/v1`, '--limit', '5h=1200,week=9000', '--reset-day', '15', '--user-agent', 'QwenCode/0.25.0 (linux; x64)'], { input: KEY })
    expect(login.code, login.stderr).toBe(0)
    const [account] = stored()
    expect(account).toMatchObject({ limits: [{ window: '5h', unit: 'requests', max: 1200 }, { window: 'week', unit: 'requests', max: 9000 }], quotaResetDay: 15, userAgent: 'QwenCode/0.25.0 (linux; x64)' })
    const id = String(account?.id)

    const edit = await cli(['edit', id, '--limit', 'week=none', '--limit', 'month-tokens=50M', '--reset-day', 'none', '--user-agent', 'none'])
    expect(edit.code, edit.stderr).toBe(0)
    expect(edit.stderr).toContain(`(${id}): limits 1,200 requests in 5 hours, 50,000,000 tokens a month; the client's User-Agent`)
    expect(stored()[0]).toMatchObject({ limits: [{ window: '5h', unit: 'requests', max: 1200 }, { window: 'month', unit: 'tokens', max: 50_000_000 }] })
    expect(stored()[0]).not.toHaveProperty('quotaResetDay')
    expect(stored()[0]).not.toHaveProperty('userAgent')

    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { accounts: Array<{ usage: Record<string, { limits: unknown }>; userAgent: string | null; quotaResetDay: number | null }> }
    expect(status.accounts[0]).toMatchObject({ userAgent: null, quotaResetDay: null })
    expect(status.accounts[0]?.usage['5h']?.limits).toEqual({ requests: 1200 })
    expect(status.accounts[0]?.usage.month?.limits).toEqual({ tokens: 50_000_000 })
  })

  it("a preset's documented quotas by name, and login says what the plan counts when no limit is given", async () => {
    const login = await cli(['login', '--provider', 'coding-plan', '--no-verify'], { input: 'sk-sp-preset-key-0001' })
    expect(login.code, login.stderr).toBe(0)
    expect(login.stderr).toContain('Quotas: the Coding Plan counts requests per 5 hours, per week (from Monday 00:00 UTC+8) and per month')
    const id = String(stored()[0]?.id)
    const edit = await cli(['edit', id, '--limit', 'pro', '--reset-day', '3'])
    expect(edit.code, edit.stderr).toBe(0)
    expect(stored()[0]).toMatchObject({ limits: [{ window: 'month', unit: 'requests', max: 90_000 }], quotaResetDay: 3 })
    const quiet = await cli(['login', '--provider', 'openrouter', '--no-verify', '--limit', 'free'], { input: 'sk-or-v1-preset-0002' })
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).not.toContain('Quotas:')
    expect(stored()[1]).toMatchObject({ limits: [{ window: 'minute', max: 20 }, { window: 'day', max: 50 }] })
  })

  it('refuses what makes no sense, with one line and exit 2, before anything is asked or changed', async () => {
    // One process for the exit code and the one line; the rest in this process.
    const oauth = await runCli(['login', '--no-browser', '--limit', 'week=10'], { home, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(oauth.code).toBe(2)
    expect(oauth.stderr.trim().split('\n')).toHaveLength(1)
    expect(oauth.stderr).toContain('are for API-key accounts: add --provider <name|url> (`qwenauth edit` sets limits on any account)')
    const bad = await cli(['login', '--provider', `${emu.url}/v1`, '--limit', 'fortnight=3'], { input: KEY })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--limit wants window=count')
    expect(emu.requests).toEqual([])
    expect(stored()).toEqual([])

    expect((await cli(['login', '--provider', `${emu.url}/v1`], { input: KEY })).code).toBe(0)
    const id = String(stored()[0]?.id)
    for (const [args, message] of [
      [['edit', id], 'nothing to change: give --limit, --reset-day, --user-agent, --label, --model or --alias'],
      [['edit', id, '--reset-day', '32'], "--reset-day wants the day of the month the plan's quota resets (1-31) or none"],
      [['edit', id, '--user-agent', 'bad\u0001agent'], '--user-agent wants a User-Agent (printable ASCII on one line'],
      [['edit', id, '--limit'], '--limit needs a value (see `qwenauth edit --help`)'],
      [['edit', 'nosuch', '--limit', 'week=1'], 'no account "nosuch"'],
    ] as const) {
      const result = await cli([...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toContain(message)
    }
    expect(stored()[0]).not.toHaveProperty('limits')
  })

  it("edit sets limits on a Qwen OAuth login, but not a User-Agent: it sends the official CLI's", async () => {
    const env = { QWENAUTH_OAUTH_URL: emu.url }
    const fast = await startEmulator({ autoApprove: true, interval: 0.02 })
    try {
      expect((await cli(['login', '--no-browser'], { env: { QWENAUTH_OAUTH_URL: fast.url } })).code).toBe(0)
      const id = String(stored()[0]?.id)
      expect((await cli(['edit', id, '--limit', 'day=1000'], { env })).code).toBe(0)
      expect(stored()[0]).toMatchObject({ limits: [{ window: 'day', max: 1000 }] })
      const ua = await cli(['edit', id, '--user-agent', 'curl/8'], { env })
      expect(ua.code).toBe(2)
      expect(ua.stderr).toContain("a Qwen OAuth login sends the official CLI's User-Agent")
    } finally {
      await fast.close()
    }
  })
})
