import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PROVIDERS } from '../src/auth/api-key/providers.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { runInProcess, type InProcessOptions, type InProcessResult } from './helpers/in-process.ts'
import { runCliOnPty } from './helpers/pty.ts'

const GOOD_KEY = 'sk-good-1234'
// Everything of the key but its last four characters: what must never be shown.
const KEY_SECRET_PART = 'sk-good-'

interface StatusJsonEntry {
  id: string
  label: string
  provider: string
  kind: string
  active: boolean
  keyHint: string | null
  baseUrl: string
  model: string | null
}

let emu: Emulator
let home: string
let cleanup: () => void

beforeAll(async () => {
  emu = await startEmulator({ apiKeys: [GOOD_KEY], autoApprove: true, interval: 0.05 })
})
afterAll(async () => {
  await emu.close()
})
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
  emu.reset()
})
afterEach(() => cleanup())

const base = () => `${emu.url}/v1`
/** `qwenauth <args>` in this process; `stderr` holds what it logged, or the error it ended with. */
const cli = async (args: string[], options: Partial<InProcessOptions> = {}): Promise<InProcessResult<void>> => {
  const result = await runInProcess(args, { home, ...options, env: { QWENAUTH_OAUTH_URL: emu.url, ...options.env } })
  return result.error instanceof Error ? { ...result, stderr: `${result.stderr}${result.error.message}\n` } : result
}

async function statusJson(): Promise<StatusJsonEntry[]> {
  const result = await cli(['status', '--json'])
  expect(result.code, result.stderr).toBe(0)
  return (JSON.parse(result.stdout) as { accounts: StatusJsonEntry[] }).accounts
}

function storedAccounts(): Array<Record<string, unknown>> {
  const file = join(home, 'qwenauth', 'accounts.json')
  if (!existsSync(file)) return []
  return (JSON.parse(readFileSync(file, 'utf8')) as { accounts: Array<Record<string, unknown>> }).accounts
}

const modelChecks = () => emu.requests.filter((r) => r.method === 'GET' && r.path === '/v1/models')

describe('adding a key account', () => {
  it('reads the key from stdin, checks it with GET /models and stores it like an OAuth account', async () => {
    // A real pipe, as a process: the rest of this file passes stdin in-process.
    const result = await runCli(['login', '--provider', `${base()}//`], { home, input: `${GOOD_KEY}\n` })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('Added')
    expect(result.stderr).toContain('active account')
    expect(modelChecks().map((r) => r.auth)).toEqual([GOOD_KEY])

    const [entry, ...rest] = await statusJson()
    expect(rest).toEqual([])
    expect(entry).toMatchObject({ kind: 'api-key', provider: 'custom', baseUrl: base(), keyHint: '…1234', active: true })
    // A custom provider's default model is the first one it lists.
    expect(entry?.model).toBe('coder-model')
    expect(entry?.id).toMatch(/^custom-[0-9a-f]{4}$/)
    expect(statSync(join(home, 'qwenauth', 'accounts.json')).mode & 0o777).toBe(0o600)
  })

  it('reads the key from the variable named by --api-key-env', async () => {
    const result = await cli(['login', '--provider', base(), '--api-key-env', 'MY_QWEN_KEY', '--label', 'work'], {
      env: { MY_QWEN_KEY: GOOD_KEY },
    })
    expect(result.code, result.stderr).toBe(0)
    expect(modelChecks().map((r) => r.auth)).toEqual([GOOD_KEY])
    expect(await statusJson()).toMatchObject([{ label: 'work', keyHint: '…1234' }])

    const unset = await cli(['login', '--provider', base(), '--api-key-env', 'NOT_SET_ANYWHERE'])
    expect(unset.code).toBe(2)
    expect(unset.stderr).toContain('NOT_SET_ANYWHERE is not set')
  })

  it('reads the key from a hidden prompt on a terminal and never echoes it', async () => {
    const result = await runCliOnPty(['login', '--provider', base()], { home, answer: GOOD_KEY, waitFor: 'API key', timeoutMs: 15_000 })
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.stdout).toContain('(input hidden)')
    expect(result.stdout).toContain('Added')
    expect(result.stdout).not.toContain(KEY_SECRET_PART)
    expect(modelChecks().map((r) => r.auth)).toEqual([GOOD_KEY])
    const token = await cli(['token'])
    expect(token.stdout).toBe(`${GOOD_KEY}\n`)
  })

  it('refuses a wrong key with the provider message and saves nothing', async () => {
    const result = await cli(['login', '--provider', base()], { input: 'sk-wrong-9999' })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('refused the key (401)')
    expect(result.stderr).toContain('invalid access token or token expired')
    expect(result.stderr).not.toContain('sk-wrong')
    expect(modelChecks()).toHaveLength(1)
    expect(storedAccounts()).toEqual([])
  })

  it('refuses an empty key, a plain-http remote URL and an unknown preset', async () => {
    const empty = await cli(['login', '--provider', base()], { input: '  \n' })
    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('no API key given')
    const remote = await cli(['login', '--provider', 'http://example.com/v1'], { input: GOOD_KEY })
    expect(remote.code).toBe(2)
    expect(remote.stderr).toContain('refusing http://')
    const unknown = await cli(['login', '--provider', 'nosuch'], { input: GOOD_KEY })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('openrouter')
    expect(emu.requests).toEqual([])
    expect(storedAccounts()).toEqual([])
  })

  it('--no-verify saves without any request', async () => {
    const result = await cli(['login', '--provider', base(), '--no-verify'], { input: 'sk-unchecked-5678' })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('not checked')
    expect(emu.requests).toEqual([])
    expect(await statusJson()).toMatchObject([{ keyHint: '…5678', model: 'coder-model' }])
  })

  it('adding the same key for the same provider again updates one account', async () => {
    const first = await cli(['login', '--provider', base()], { input: GOOD_KEY })
    expect(first.code, first.stderr).toBe(0)
    const second = await cli(['login', '--provider', base(), '--label', 'renamed', '--model', 'qwen3-coder-plus'], { input: GOOD_KEY })
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toContain('Updated')
    const accounts = await statusJson()
    expect(accounts).toHaveLength(1)
    expect(accounts[0]).toMatchObject({ label: 'renamed', model: 'qwen3-coder-plus' })
  })

  it('stores --alias overrides, repeatable and comma-separated', async () => {
    const args = ['login', '--provider', 'openrouter', '--no-verify', '--alias', 'coder-model=my/coder,vision-model=my/vision', '--alias=fast=my/fast']
    const result = await cli(args, { input: 'sk-or-v1-alias0001' })
    expect(result.code, result.stderr).toBe(0)
    expect(storedAccounts()[0]?.aliases).toEqual({ 'coder-model': 'my/coder', 'vision-model': 'my/vision', fast: 'my/fast' })
    const bad = await cli(['login', '--provider', 'openrouter', '--no-verify', '--alias', 'coder-model'], { input: 'sk-or-v1-alias0002' })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--alias wants requested=upstream')
  })

  it('refuses a key given as an argument, pointing to stdin and --api-key-env', async () => {
    for (const args of [
      ['login', '--provider', 'openrouter', '--api-key', 'sk-or-v1-argument9'],
      ['login', '--provider', 'openrouter', '--api-key=sk-or-v1-argument9'],
      ['login', '--provider', 'openrouter', 'sk-or-v1-argument9'],
    ]) {
      const result = await cli(args, { input: GOOD_KEY })
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toContain('stdin')
      expect(result.stderr).toContain('--api-key-env')
      expect(result.stderr).not.toContain('argument9')
    }
    expect(emu.requests).toEqual([])
    expect(storedAccounts()).toEqual([])
  })

  it('resolves every preset to its table base URL', async () => {
    for (const preset of PROVIDERS) {
      const result = await cli(['login', '--provider', preset.name, '--no-verify'], { input: `fake-key-${preset.name}-x${PROVIDERS.indexOf(preset)}` })
      expect(result.code, result.stderr).toBe(0)
    }
    const accounts = await statusJson()
    expect(accounts.map((a) => [a.provider, a.baseUrl])).toEqual(PROVIDERS.map((p) => [p.name, p.baseUrl]))
    expect(emu.requests).toEqual([])
  })
})

describe('key accounts in the pool', () => {
  it('status and status --json show a key hint, never the key; token prints the key', async () => {
    expect((await cli(['login', '--provider', base()], { input: GOOD_KEY })).code).toBe(0)
    const table = await cli(['status'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toContain('…1234')
    const json = await cli(['status', '--json'])
    expect(json.stdout).toContain('"keyHint": "…1234"')
    for (const output of [table.stdout, table.stderr, json.stdout, json.stderr]) expect(output).not.toContain(KEY_SECRET_PART)
    const token = await cli(['token'])
    expect(token.code, token.stderr).toBe(0)
    expect(token.stdout).toBe(`${GOOD_KEY}\n`)
  })

  it('a new key account goes after an OAuth login; `use` makes it first and status shows the order', async () => {
    const oauth = await cli(['login', '--no-browser'])
    expect(oauth.code, oauth.stderr).toBe(0)
    const added = await cli(['login', '--provider', base()], { input: GOOD_KEY })
    expect(added.code, added.stderr).toBe(0)
    expect(added.stderr).toContain('#2 in the pool')
    expect(added.stderr).toContain('qwenauth use custom-')

    let accounts = await statusJson()
    expect(accounts.map((a) => a.kind)).toEqual(['qwen-oauth', 'api-key'])
    const keyId = accounts[1]?.id ?? ''

    const use = await cli(['use', keyId])
    expect(use.code, use.stderr).toBe(0)
    accounts = await statusJson()
    expect(accounts.map((a) => [a.kind, a.active])).toEqual([['api-key', true], ['qwen-oauth', false]])
    const table = (await cli(['status'])).stdout.split('\n')
    expect(table[1]).toMatch(new RegExp(`^1\\s+\\*\\s+${keyId}\\s`))
    expect(table[2]).toMatch(/^2\s{3}/)
    expect((await cli(['token'])).stdout).toBe(`${GOOD_KEY}\n`)
  })
})
