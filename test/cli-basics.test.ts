import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, loginViaEmulator, readJsonFile } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'

let emu: Emulator
beforeAll(async () => {
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
})
afterAll(() => emu.close())

describe('CLI basics', () => {
  it('--version and --help', async () => {
    const { home, cleanup } = tempHome()
    const version = await runCli(['--version'], { home })
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    const help = await runCli(['--help'], { home })
    expect(help.code).toBe(0)
    for (const cmd of ['login', 'status', 'use', 'logout', 'token']) expect(help.stdout).toContain(cmd)
    const loginHelp = await runCli(['login', '--help'], { home })
    expect(loginHelp.stdout).toContain('--no-browser')
    cleanup()
  })

  it('an unknown command is a usage error', async () => {
    const { home, cleanup } = tempHome()
    const result = await runCli(['frobnicate'], { home })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/frobnicate/)
    cleanup()
  })

  it('use, status and logout across two accounts; logout takes oauth_creds.json with its account', async () => {
    const { home, cleanup } = tempHome()
    emu.setNextEmail('first@example.com')
    await loginViaEmulator(home, emu)
    emu.setNextEmail('second@example.com')
    await loginViaEmulator(home, emu)
    const [second, first] = readJsonFile(accountsPath(home)).accounts
    expect(readJsonFile(credsPath(home)).access_token).toBe(second.accessToken)

    const used = await runCli(['use', 'first@example.com'], { home })
    expect(used.code, used.stderr).toBe(0)
    expect(readJsonFile(credsPath(home)).access_token).toBe(first.accessToken)
    const table = (await runCli(['status'], { home })).stdout
    expect(table).toMatch(/1\s+\*\s+qwen-\w+\s+first@example\.com/)
    expect(table).toMatch(/2\s+qwen-\w+\s+second@example\.com/)
    expect(table).not.toContain(first.accessToken)

    expect((await runCli(['logout', first.id], { home })).code).toBe(0)
    expect(existsSync(credsPath(home))).toBe(false)
    expect(readJsonFile(accountsPath(home)).accounts.map((a: { id: string }) => a.id)).toEqual([second.id])

    expect((await runCli(['logout', '--all'], { home })).code).toBe(0)
    expect(readJsonFile(accountsPath(home)).accounts).toEqual([])
    cleanup()
  })

  it('the compiled binary logs in, shows status and prints a token', async () => {
    const { home, cleanup } = tempHome()
    const env = { QWENAUTH_OAUTH_URL: emu.url }
    const login = await runCli(['login'], { home, env, runtime: 'binary' })
    expect(login.code, login.stderr).toBe(0)
    const status = JSON.parse((await runCli(['status', '--json'], { home, runtime: 'binary' })).stdout)
    expect(status.accounts).toHaveLength(1)
    const token = await runCli(['token'], { home, env, runtime: 'binary' })
    expect(token.stdout.trim()).toBe(readJsonFile(credsPath(home)).access_token)
    cleanup()
  })
})
