/** `use`, `status` and `logout` on a pool of accounts, and what they print with --json. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, loginInProcess, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'

let emu: Emulator
let home: string
let cleanup: () => void
beforeAll(async () => {
  emu = await startEmulator({ autoApprove: true, interval: 0.02 })
})
afterAll(() => emu.close())
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

/** `qwenauth <argv>` in this process. */
const run = (argv: string[], input?: string) => runInProcess(argv, { home, ...(input !== undefined ? { input } : {}) })

async function addKey(label: string, key: string): Promise<{ id: string; label: string; provider: string }> {
  const result = await run(['login', '--provider', 'openrouter', '--no-verify', '--label', label, '--json'], key)
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout)
}

describe('use, status and logout', () => {
  it('across two accounts; logout takes oauth_creds.json with its account', async () => {
    emu.setNextEmail('first@example.com')
    await loginInProcess(home, emu)
    emu.setNextEmail('second@example.com')
    await loginInProcess(home, emu)
    const [second, first] = readJsonFile(accountsPath(home)).accounts
    expect(readJsonFile(credsPath(home)).access_token).toBe(second.accessToken)

    const used = await run(['use', 'first@example.com'])
    expect(used.code, used.stderr).toBe(0)
    expect(readJsonFile(credsPath(home)).access_token).toBe(first.accessToken)
    const table = (await run(['status'])).stdout
    expect(table).toMatch(/1\s+\*\s+qwen-\w+\s+first@example\.com/)
    expect(table).toMatch(/2\s+qwen-\w+\s+second@example\.com/)
    expect(table).not.toContain(first.accessToken)

    expect((await run(['logout', first.id])).code).toBe(0)
    expect(existsSync(credsPath(home))).toBe(false)
    expect(readJsonFile(accountsPath(home)).accounts.map((a: { id: string }) => a.id)).toEqual([second.id])

    expect((await run(['logout', '--all'])).code).toBe(0)
    expect(readJsonFile(accountsPath(home)).accounts).toEqual([])
  })
})

describe('--json on every command that changes or reports something', () => {
  it('use, logout and store copy print what they did as JSON on stdout', async () => {
    const first = await addKey('first', 'sk-first-key-1111')
    const second = await addKey('second', 'sk-second-key-2222')
    expect(first).toEqual({ id: expect.stringMatching(/^openrouter-/), label: 'first', provider: 'openrouter' })

    const used = await run(['use', 'second', '--json'])
    expect(used.code, used.stderr).toBe(0)
    expect(JSON.parse(used.stdout)).toEqual(second)

    const target = join(home, 'copy')
    const copied = await run(['store', 'copy', '--from', home, '--to', target, '--json'])
    expect(copied.code, copied.stderr).toBe(0)
    expect(JSON.parse(copied.stdout)).toEqual({ from: home, to: target, copied: [second, first], keptNewer: [] })

    const removed = await run(['logout', first.id, '--json'])
    expect(removed.code, removed.stderr).toBe(0)
    expect(JSON.parse(removed.stdout)).toEqual({ removed: [first] })
    expect(JSON.parse((await run(['logout', '--all', '--json'])).stdout)).toEqual({ removed: [second] })
  })
})
