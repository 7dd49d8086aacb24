import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { qwenSettingsEnv } from '../src/exec/qwen-code-settings.ts'
import { cliEnv, collect, type CliResult } from './helpers/cli.ts'
import { execFixture, loggedIn, repoRoot, type LoggedIn } from './helpers/exec-fixtures.ts'

/**
 * The official CLI (@qwen-code/qwen-code 0.24.4, a devDependency) run through `qwenauth exec`
 * against the emulator. Every Node process here preloads a guard that refuses and records any
 * connection off this machine; the CLI's usage statistics are switched off by its own variable.
 */
const QWEN_TIMEOUT_MS = 45_000
const CONFLICTING_SETTINGS = {
  security: { auth: { selectedType: 'qwen-oauth' } },
  model: { name: 'no-such-model' },
  modelProviders: { openai: [{ id: 'no-such-model', baseUrl: 'http://127.0.0.1:9/v1', envKey: 'SOME_OTHER_KEY' }] },
}

let fx: LoggedIn
let scratch: string
let netLog: string
beforeEach(async () => {
  fx = await loggedIn()
  scratch = mkdtempSync(join(tmpdir(), 'qwenauth-qwen-'))
  mkdirSync(join(scratch, 'home'))
  mkdirSync(join(scratch, 'work'))
  netLog = join(scratch, 'net.log')
  writeFileSync(netLog, '')
})
afterEach(async () => {
  await fx.cleanup()
  rmSync(scratch, { recursive: true, force: true })
})

/** qwen reads its settings from QWEN_HOME, the same directory qwenauth keeps its accounts in. */
function writeUserSettings(settings: unknown): string {
  const file = join(fx.home, 'settings.json')
  writeFileSync(file, JSON.stringify(settings, null, 2))
  return file
}

/**
 * On a machine with much memory qwen starts itself a second time with a larger heap, which is
 * a fifth of its CPU time here; QWEN_CODE_NO_RELAUNCH (its own switch, set in that second
 * process) skips it. The environment qwenauth gives qwen is the same either way, so only the
 * first test below takes the relaunching path.
 */
function qwenEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    ...fx.env,
    QWEN_CODE_NO_RELAUNCH: 'true',
    HOME: join(scratch, 'home'),
    PATH: `${join(repoRoot, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
    QWEN_USAGE_STATISTICS_ENABLED: 'false',
    NODE_OPTIONS: `--require=${execFixture('net-guard.cjs')}`,
    NET_GUARD_LOG: netLog,
    ...extra,
  }
}

/** Runs a program (qwenauth by default) in an empty working directory, bounded in time. */
function run(args: string[], options: { env?: Record<string, string | undefined>; command?: string } = {}): Promise<CliResult> {
  const [command, prefix] = options.command ? [options.command, []] : [process.execPath, [inject('nodeCli')]]
  const child = spawn(command, [...prefix, ...args], { cwd: join(scratch, 'work'), env: cliEnv({ home: fx.home, env: options.env ?? qwenEnv() }), stdio: 'pipe' })
  return collect(child, undefined, QWEN_TIMEOUT_MS)
}

async function expectAnsweredWithAccountToken(result: CliResult, headers: 'qwen' | 'none'): Promise<void> {
  expect(result.stdout, result.stderr).toContain('Hello from the Qwen emulator')
  expect(result.code).toBe(0)
  const token = (await fx.account()).accessToken
  const chats = fx.emu.requests.filter((r) => r.path === '/v1/chat/completions')
  expect(chats.length).toBeGreaterThan(0)
  for (const r of chats) {
    expect(r.auth).toBe(token)
    if (headers === 'qwen') {
      expect(r.headers['x-dashscope-authtype']).toBe('qwen-oauth')
      expect(r.headers['x-dashscope-cachecontrol']).toBe('enable')
      expect(r.headers['x-dashscope-useragent']).toMatch(/^QwenCode\//)
    }
  }
  expect(readFileSync(netLog, 'utf8')).toBe('')
}

describe('qwenauth exec -- qwen -p', { timeout: 60_000 }, () => {
  it('answers without a settings.json, through the proxy with the DashScope headers', async () => {
    await expectAnsweredWithAccountToken(await run(['exec', '--', 'qwen', '-p', 'hi'], { env: qwenEnv({ QWEN_CODE_NO_RELAUNCH: undefined }) }), 'qwen')
  })

  it('answers although settings.json selects qwen-oauth, another model and a provider of its own', async () => {
    const file = writeUserSettings(CONFLICTING_SETTINGS)
    await expectAnsweredWithAccountToken(await run(['exec', '--', 'qwen', '-p', 'hi']), 'qwen')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject(CONFLICTING_SETTINGS)
  })

  it('when the only account turns out not to be served, qwen gets a 403 it does not retry, and exec says why once', async () => {
    fx.emu.setUserState((await fx.account()).label, 'not-served')
    const result = await run(['exec', '--', 'qwen', '-p', 'hi'])
    expect(result.code).not.toBe(0)
    // One request, one refresh and a retry with the fresh token; then qwen stops instead of
    // retrying a 503 for minutes.
    const chats = fx.emu.requests.filter((r) => r.path === '/v1/chat/completions')
    expect(chats).toHaveLength(2)
    const warnings = result.stderr.split('\n').filter((l) => l.includes('no usable account'))
    expect(warnings.filter((l) => l.startsWith('[warn]'))).toHaveLength(1)
    expect(result.stderr).toMatch(/not served: Qwen ended the free OAuth tier on 2026-04-15/)
  })

  it('control: the same settings.json makes qwen refuse the same credentials given only as OPENAI_*', async () => {
    writeUserSettings(CONFLICTING_SETTINGS)
    const token = (await fx.account()).accessToken ?? ''
    const env = qwenEnv({ OPENAI_API_KEY: token, OPENAI_BASE_URL: `${fx.emu.url}/v1`, OPENAI_MODEL: 'coder-model' })
    const result = await run(['-p', 'hi'], { command: join(repoRoot, 'node_modules/.bin/qwen'), env })
    expect(result.stdout).not.toContain('Hello from the Qwen emulator')
    expect(fx.emu.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(0)
  })

  it('also reaches qwen started by a script, and --direct hands qwen the real token', async () => {
    writeUserSettings(CONFLICTING_SETTINGS)
    await expectAnsweredWithAccountToken(await run(['exec', '--direct', '--', 'sh', '-c', 'qwen -p "$0"', 'hi']), 'none')
  })

  it("leaves qwen's sub-commands working", async () => {
    writeUserSettings(CONFLICTING_SETTINGS)
    const result = await run(['exec', '--', 'qwen', 'mcp', 'list'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('No MCP servers configured')
    expect(readFileSync(netLog, 'utf8')).toBe('')
  })
})

describe('the settings layer exec gives qwen', () => {
  it('keeps an existing system settings file (comments allowed) and overrides only auth type, model and providers', async () => {
    const adminDir = join(scratch, 'etc')
    mkdirSync(adminDir)
    const admin = join(adminDir, 'settings.json')
    writeFileSync(admin, '// managed by IT\n{ "ui": { "theme": "GitHub" /* keep */ }, "security": { "auth": { "selectedType": "qwen-oauth", "enforcedType": "openai" } } }')
    const vars = await qwenSettingsEnv(fx.home, 'coder-model', { QWEN_CODE_SYSTEM_SETTINGS_PATH: admin })
    const path = vars.QWEN_CODE_SYSTEM_SETTINGS_PATH ?? ''
    expect(path.startsWith(join(fx.home, 'qwenauth'))).toBe(true)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      $version: 4,
      ui: { theme: 'GitHub' },
      security: { auth: { selectedType: 'openai', enforcedType: 'openai' } },
      model: { name: 'coder-model' },
      modelProviders: [],
    })
    // qwen looks for system defaults beside the system settings: keep pointing at the real ones.
    expect(vars.QWEN_CODE_SYSTEM_DEFAULTS_PATH).toBe(join(adminDir, 'system-defaults.json'))
    expect((await qwenSettingsEnv(fx.home, 'coder-model', { QWEN_CODE_SYSTEM_SETTINGS_PATH: admin })).QWEN_CODE_SYSTEM_SETTINGS_PATH).toBe(path)
  })

  it('sets nothing when the system settings cannot be read, rather than replace them', async () => {
    const admin = join(scratch, 'broken.json')
    writeFileSync(admin, '{ not json')
    expect(await qwenSettingsEnv(fx.home, 'coder-model', { QWEN_CODE_SYSTEM_SETTINGS_PATH: admin })).toEqual({})
  })
})
