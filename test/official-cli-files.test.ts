/**
 * The official CLI's files as qwenauth reads and writes them: an `oauth_creds.json` it wrote
 * becomes an account (an invalid one is ignored, as the official CLI ignores it), the file
 * qwenauth writes passes the official validity rule, and QWEN_HOME comes from the same `.env`
 * files. The official code itself reading them is in official-cli-interop.test.ts.
 */
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runStatus } from '../src/commands/status.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { credsPath, loginInProcess, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { inProcess, runInProcess, succeeded, type InProcessOptions } from './helpers/in-process.ts'

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

/** `qwenauth status --json`'s accounts, in this process. */
const status = async (options: InProcessOptions = { home }) => succeeded(await inProcess(options, runStatus))

describe('compatibility with the official CLI files', () => {
  it('picks up an oauth_creds.json the official CLI wrote as an account', async () => {
    writeFileSync(credsPath(home), officialFile(), { mode: 0o600 })
    const accounts = await status()
    expect(accounts).toHaveLength(1)
    expect(accounts[0]).toMatchObject({ provider: 'qwen-oauth', active: true, status: 'ok', baseUrl: 'https://portal.qwen.ai/v1' })
    const token = await runInProcess(['token'], { home })
    expect(token.stdout).toBe('official-access-token-1\n')
    // Imported once: the id is stable across runs.
    expect((await status()).map((a) => a.id)).toEqual(accounts.map((a) => a.id))
  })

  it.each([
    ['missing refresh_token', { refresh_token: undefined }],
    ['empty access_token', { access_token: '' }],
    ['expiry_date as a string', { expiry_date: '1760000000000' }],
  ])('ignores an invalid oauth_creds.json (%s), as the official CLI does', async (_name, overrides) => {
    writeFileSync(credsPath(home), officialFile(overrides))
    expect(await status()).toEqual([])
  })

  it('writes a file the official CLI accepts, replacing a symlink instead of following it', async () => {
    emu = await startEmulator({ autoApprove: true, interval: 0.02 })
    const elsewhere = join(home, 'elsewhere.json')
    writeFileSync(elsewhere, 'do not touch')
    symlinkSync(elsewhere, credsPath(home))
    await loginInProcess(home, emu)
    expect(lstatSync(credsPath(home)).isSymbolicLink()).toBe(false)
    expect(readFileSync(elsewhere, 'utf8')).toBe('do not touch')
    const creds = readJsonFile(credsPath(home))
    // The official validity rule.
    for (const key of ['access_token', 'refresh_token', 'token_type']) expect(typeof creds[key] === 'string' && creds[key].length > 0).toBe(true)
    expect(typeof creds.expiry_date).toBe('number')
    expect(readFileSync(credsPath(home), 'utf8')).toBe(JSON.stringify(creds, null, 2))
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
    expect(await status({ home, env: { QWEN_HOME: undefined, HOME: fakeHome } })).toHaveLength(1)
    // The environment still wins over the file.
    expect(await status({ home, env: { HOME: fakeHome } })).toHaveLength(0)
  })
})
