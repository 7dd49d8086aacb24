import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { runReset } from '../src/commands/reset.ts'
import { createContext } from '../src/context.ts'
import type { Account } from '../src/store/account-model.ts'
import { accountsPath, readJsonFile } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'

let home: string
let cleanup: () => void
beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
  vi.stubEnv('QWEN_HOME', home)
  vi.stubEnv('QWENAUTH_STORAGE', '')
  const now = Date.now()
  const error = { message: 'what went wrong', at: now }
  const accounts: Account[] = [
    keyAccount('cool-1', { status: 'cooling-down', cooldownUntil: now + 30 * 60_000, lastError: { ...error, code: 'insufficient_quota' } }),
    { ...keyAccount('qwen-served', { status: 'not-served', lastError: error }), kind: 'qwen-oauth', accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: now + 3600_000 },
    keyAccount('key-refused', { status: 'needs-login', lastError: error }),
    { ...keyAccount('qwen-dead', { status: 'needs-login', lastError: { ...error, code: 'refresh_rejected' } }), kind: 'qwen-oauth', label: 'dead@example.com', refreshToken: 'rt-dead' },
    keyAccount('fine-1', { status: 'ok' }),
  ]
  await createContext({ QWEN_HOME: home }).accounts.update((doc) => void (doc.accounts = accounts))
})
afterEach(() => {
  vi.unstubAllEnvs()
  vi.restoreAllMocks()
  cleanup()
})

function keyAccount(id: string, fields: Partial<Account>): Account {
  return { id, label: id, kind: 'api-key', provider: 'custom', baseUrl: 'https://llm.example.com/v1', apiKey: `sk-${id}-0000`, status: 'ok', createdAt: 0, updatedAt: 0, ...fields }
}

const stored = (id: string): Account => readJsonFile(accountsPath(home)).accounts.find((a: Account) => a.id === id)

describe('reset: clear a cooldown or a mark so the account serves again now', () => {
  it('clears a cooldown, not-served and a refused key, with their last error', async () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const entries = await runReset({ account: 'cool' })
    expect(entries).toEqual([{ id: 'cool-1', label: 'cool-1', provider: 'custom', before: 'cooling-down', after: 'ok' }])
    expect(stored('cool-1')).toMatchObject({ status: 'ok' })
    expect(stored('cool-1').cooldownUntil).toBeUndefined()
    expect(stored('cool-1').lastError).toBeUndefined()
    expect((await runReset({ account: 'qwen-served' }))[0]).toMatchObject({ before: 'not-served', after: 'ok' })
    expect((await runReset({ account: 'key-refused' }))[0]).toMatchObject({ before: 'needs-login', after: 'ok' })
    // Pool order and everything else stay as they were.
    expect(readJsonFile(accountsPath(home)).accounts.map((a: Account) => a.id)).toEqual(['cool-1', 'qwen-served', 'key-refused', 'qwen-dead', 'fine-1'])
    expect(stored('qwen-served')).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' })
  })

  it('leaves an OAuth login whose refresh token was refused: only `login` fixes that (exit 3 when named)', async () => {
    await expect(runReset({ account: 'dead@example.com' })).rejects.toMatchObject({
      exitCode: 3,
      message: 'dead@example.com (qwen-dead) still needs a new login: the OAuth server refused its refresh token, which reset cannot undo; run `qwenauth login` as dead@example.com',
    })
    expect(stored('qwen-dead')).toMatchObject({ status: 'needs-login', refreshToken: 'rt-dead' })
  })

  it('--all resets every account it can and says which it could not', async () => {
    let stderr = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true))
    const entries = await runReset({ all: true })
    expect(entries.map((e) => [e.id, e.before, e.after])).toEqual([
      ['cool-1', 'cooling-down', 'ok'],
      ['qwen-served', 'not-served', 'ok'],
      ['key-refused', 'needs-login', 'ok'],
      ['qwen-dead', 'needs-login', 'needs-login'],
      ['fine-1', 'ok', 'ok'],
    ])
    expect(stderr).toContain('[warn] dead@example.com (qwen-dead) still needs a new login')
    expect(stderr).toContain('cool-1 (cool-1): cooling-down cleared; it serves again')
    expect(stderr).toContain('fine-1 (fine-1) was usable already')
  })

  it('needs an account or --all, not both', async () => {
    await expect(runReset({})).rejects.toMatchObject({ exitCode: 2 })
    await expect(runReset({ all: true, account: 'x' })).rejects.toMatchObject({ exitCode: 2 })
  })

  it('as a command: --json on stdout, and a JSON error object (same exit code) when it fails', async () => {
    const ok = await runCli(['reset', 'key-r', '--json'], { home })
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({ accounts: [{ id: 'key-refused', label: 'key-refused', provider: 'custom', before: 'needs-login', after: 'ok' }] })
    const dead = await runCli(['reset', 'qwen-dead', '--json'], { home })
    expect(dead.code).toBe(3)
    expect(dead.stderr).toContain('still needs a new login')
    expect(JSON.parse(dead.stdout)).toEqual({ error: { message: expect.stringContaining('still needs a new login'), exitCode: 3, code: 'needs-login' } })
  })
})
