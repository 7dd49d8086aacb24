/**
 * The entry point as a process: --version and --help, a word that names no command, a failure
 * as one line (and as JSON on stdout for --json callers) with its exit code, and the compiled
 * binary doing the same work as the Node bundle.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, readJsonFile } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'

let emu: Emulator
beforeAll(async () => {
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
})
afterAll(() => emu.close())

/** A loopback port nothing listens on any more. */
async function closedPortUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return `http://127.0.0.1:${port}`
}

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

describe('--json failures', () => {
  it('a failure prints {"error":{…}} on stdout besides the line on stderr, with the same exit code', async () => {
    const { home, cleanup } = tempHome()
    try {
      const url = await closedPortUrl()
      const unreachable = await runCli(['login', '--json'], { home, env: { QWENAUTH_OAUTH_URL: url } })
      expect(unreachable.code).toBe(4)
      expect(unreachable.stderr).toContain(`[error] cannot reach the Qwen OAuth server at ${url}`)
      expect(JSON.parse(unreachable.stdout)).toEqual({
        error: { message: `cannot reach the Qwen OAuth server at ${url}: connection refused`, exitCode: 4, code: 'network' },
      })

      const unknown = await runCli(['use', 'nobody', '--json'], { home })
      expect(unknown.code).toBe(2)
      expect(JSON.parse(unknown.stdout).error).toMatchObject({ message: expect.stringContaining('no account "nobody"'), exitCode: 2, code: 'usage' })

      mkdirSync(join(home, 'qwenauth'), { recursive: true })
      writeFileSync(accountsPath(home), '{"version":1,"accounts":"no"}')
      const damaged = await runCli(['status', '--json'], { home })
      expect(damaged.code).toBe(1)
      expect(JSON.parse(damaged.stdout).error).toMatchObject({ message: expect.stringContaining('is damaged'), exitCode: 1, code: 'failure' })
    } finally {
      cleanup()
    }
  })

  it('a key login that fails says so in JSON too', async () => {
    const { home, cleanup } = tempHome()
    try {
      const refused = await runCli(['login', '--provider', 'openrouter', '--json'], { home, input: 'OPENROUTER_API_KEY=sk-abc-123456' })
      expect(refused.code).toBe(2)
      expect(JSON.parse(refused.stdout)).toEqual({ error: { message: expect.stringContaining('starts with OPENROUTER_API_KEY='), exitCode: 2, code: 'usage' } })
    } finally {
      cleanup()
    }
  })
})
