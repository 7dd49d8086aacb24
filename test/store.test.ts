import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, loginViaEmulator, readJsonFile } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'

let home: string
let cleanup: () => void
let emu: Emulator | undefined

beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(async () => {
  await emu?.close()
  emu = undefined
  cleanup()
})

const officialFile = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ access_token: 'official-access-token-1', refresh_token: 'official-refresh-1', token_type: 'Bearer', resource_url: 'portal.qwen.ai', expiry_date: Date.now() + 3600_000, ...overrides }, null, 2)

describe('compatibility with the official CLI files', () => {
  it('picks up an oauth_creds.json the official CLI wrote as an account', async () => {
    writeFileSync(credsPath(home), officialFile(), { mode: 0o600 })
    const status = JSON.parse((await runCli(['status', '--json'], { home })).stdout)
    expect(status.accounts).toHaveLength(1)
    expect(status.accounts[0]).toMatchObject({ provider: 'qwen-oauth', active: true, status: 'ok', baseUrl: 'https://portal.qwen.ai/v1' })
    const token = await runCli(['token'], { home })
    expect(token.stdout).toBe('official-access-token-1\n')
    // Imported once: the id is stable across runs.
    const again = JSON.parse((await runCli(['status', '--json'], { home })).stdout)
    expect(again.accounts.map((a: { id: string }) => a.id)).toEqual(status.accounts.map((a: { id: string }) => a.id))
  })

  it.each([
    ['missing refresh_token', { refresh_token: undefined }],
    ['empty access_token', { access_token: '' }],
    ['expiry_date as a string', { expiry_date: '1760000000000' }],
  ])('ignores an invalid oauth_creds.json (%s), as the official CLI does', async (_name, overrides) => {
    writeFileSync(credsPath(home), officialFile(overrides))
    const status = JSON.parse((await runCli(['status', '--json'], { home })).stdout)
    expect(status.accounts).toEqual([])
  })

  it('writes a file the official CLI accepts, replacing a symlink instead of following it', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    const elsewhere = join(home, 'elsewhere.json')
    writeFileSync(elsewhere, 'do not touch')
    symlinkSync(elsewhere, credsPath(home))
    await loginViaEmulator(home, emu)
    expect(lstatSync(credsPath(home)).isSymbolicLink()).toBe(false)
    expect(readFileSync(elsewhere, 'utf8')).toBe('do not touch')
    const creds = readJsonFile(credsPath(home))
    // The official validity rule.
    for (const key of ['access_token', 'refresh_token', 'token_type']) expect(typeof creds[key] === 'string' && creds[key].length > 0).toBe(true)
    expect(typeof creds.expiry_date).toBe('number')
    expect(readFileSync(credsPath(home), 'utf8')).toBe(JSON.stringify(creds, null, 2))
  })
})

describe('bad input', () => {
  it('a corrupt accounts file is kept aside, reported in one line, and a fresh one started', async () => {
    mkdirSync(join(home, 'qwenauth'), { recursive: true })
    writeFileSync(accountsPath(home), '{"version":1,"accounts":[{"id":')
    const result = await runCli(['status'], { home })
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/not valid JSON; it was moved to qwenauth\/accounts\.json\.corrupt-\d+/)
    const aside = readdirSync(join(home, 'qwenauth')).find((f) => f.startsWith('accounts.json.corrupt-'))!
    expect(readFileSync(join(home, 'qwenauth', aside), 'utf8')).toBe('{"version":1,"accounts":[{"id":')
    expect((await runCli(['status'], { home })).code).toBe(0)
  })

  it('an unknown account is one line and exit 2', async () => {
    writeFileSync(credsPath(home), officialFile())
    const result = await runCli(['token', '--account', 'nope'], { home })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/no account "nope"/)
  })

  it('an unwritable QWEN_HOME is one line and a non-zero exit', async () => {
    const file = join(home, 'a-file')
    writeFileSync(file, '')
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    const result = await runCli(['login'], { home: join(file, 'qwen'), env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/ENOTDIR|not a directory/)
    expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('token with no accounts says how to log in', async () => {
    const result = await runCli(['token'], { home })
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(/qwenauth login/)
  })
})

describe('atomic writes', () => {
  it('a reader never sees half a file, even when the writer is SIGKILLed mid-write', async () => {
    const target = join(home, 'big.json')
    const bun = resolve('node_modules/.bin/bun')
    for (let round = 0; round < 5; round++) {
      const writer = spawn(bun, ['test/fixtures/atomic-writer.ts', target, '5000'], { stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise<void>((r) => writer.stdout!.once('data', () => r()))
      const deadline = Date.now() + 150 + round * 60
      let reads = 0
      while (Date.now() < deadline) {
        if (!existsSync(target)) continue
        const doc = JSON.parse(readFileSync(target, 'utf8'))
        expect(['a', 'b']).toContain(doc.fill)
        reads++
      }
      writer.kill('SIGKILL')
      await new Promise((r) => writer.once('close', r))
      expect(['a', 'b']).toContain(JSON.parse(readFileSync(target, 'utf8')).fill)
      expect(statSync(target).mode & 0o777).toBe(0o600)
      expect(reads).toBeGreaterThan(0)
    }
  })
})

describe('store copy', () => {
  it('never overwrites a login whose target copy holds newer tokens (its refresh token rotated)', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    await loginViaEmulator(home, emu)
    const other = join(home, 'other')
    expect((await runCli(['store', 'copy', '--from', home, '--to', other], { home })).code).toBe(0)
    // The other store refreshes: the source now holds a spent refresh token.
    const fresh = await runCli(['token', '--refresh-margin', '7h'], { home: other, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(fresh.code, fresh.stderr).toBe(0)
    const again = await runCli(['store', 'copy', '--from', home, '--to', other], { home })
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/tokens are newer than the source's; kept them/)
    const token = await runCli(['token'], { home: other, env: { QWENAUTH_OAUTH_URL: emu.url } })
    expect(token.stdout).toBe(fresh.stdout)
  })
})

describe('QWEN_HOME from a .env file, as the official CLI reads it', () => {
  it.each([
    ['.qwen/.env', 'export QWEN_HOME="~/from-dotenv" # comment'],
    ['.env', "QWEN_HOME='~/from-dotenv'"],
  ])('~/%s', async (file, line) => {
    const fakeHome = join(home, 'user')
    mkdirSync(join(fakeHome, '.qwen'), { recursive: true })
    writeFileSync(join(fakeHome, file), `OTHER=1\n${line}\n`)
    mkdirSync(join(fakeHome, 'from-dotenv'), { recursive: true })
    writeFileSync(join(fakeHome, 'from-dotenv', 'oauth_creds.json'), officialFile())
    const status = await runCli(['status', '--json'], { home, env: { QWEN_HOME: undefined, HOME: fakeHome } })
    expect(JSON.parse(status.stdout).accounts).toHaveLength(1)
    // The environment still wins over the file.
    const direct = await runCli(['status', '--json'], { home, env: { HOME: fakeHome } })
    expect(JSON.parse(direct.stdout).accounts).toHaveLength(0)
  })
})
