/**
 * The same user journey under every way qwenauth ships: the Node bundle (npm), Bun on the
 * sources, Deno on the sources, and the compiled binary. A table of runtimes × scenarios; the
 * scenarios of one runtime run in order against one QWEN_HOME and one emulator, so a scenario
 * may rely on the ones before it (everything after `login` has a logged-in account).
 * A runtime is skipped only when its executable is missing.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createContext } from '../src/context.ts'
import type { StatusEntry } from '../src/commands/status.ts'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { cliEnv, collect, tempHome, type CliResult } from './helpers/cli.ts'

const root = resolve(import.meta.dirname, '..')
const sources = join(root, 'src/cli.ts')
const bin = (name: string) => join(root, 'node_modules/.bin', name)

interface Runtime {
  name: string
  /** The command line that starts `qwenauth` (arguments are appended). */
  argv: () => string[]
}

const RUNTIMES: Runtime[] = [
  { name: 'node (npm bundle)', argv: () => [process.execPath, inject('nodeCli')] },
  { name: 'bun (sources)', argv: () => [bin('bun'), sources] },
  { name: 'deno (sources)', argv: () => [bin('deno'), 'run', '-A', sources] },
  { name: 'compiled binary', argv: () => [inject('binaryCli')] },
]

interface Journey {
  emulator: Emulator
  home: string
  /** Runs qwenauth under this runtime with QWEN_HOME and the emulator's OAuth URL set. */
  cli: (args: string[], options?: { env?: Record<string, string | undefined>; input?: string }) => Promise<CliResult>
}

type Scenario = (t: Journey) => Promise<void>

// --- scenarios ---------------------------------------------------------------------------------

const login: Scenario = async ({ cli }) => {
  const result = await cli(['login'])
  expect(result.stderr).toContain('Logged in as user1@example.com')
  expect(result.code).toBe(0)
}

const statusJson: Scenario = async ({ cli, emulator }) => {
  const result = await cli(['status', '--json'])
  expect(result.code, result.stderr).toBe(0)
  const { accounts } = JSON.parse(result.stdout) as { accounts: StatusEntry[] }
  expect(accounts).toHaveLength(1)
  expect(accounts[0]).toMatchObject({ label: 'user1@example.com', kind: 'qwen-oauth', active: true, status: 'ok', baseUrl: `${emulator.url}/v1` })
  expect(accounts[0]?.expiresAt).toBeGreaterThan(Date.now())
}

/** A token the emulator's API accepts. */
async function expectAccepted(emulator: Emulator, token: string): Promise<void> {
  const response = await fetch(`${emulator.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })
  expect(response.status).toBe(200)
}

const tokenCached: Scenario = async ({ cli, emulator }) => {
  const first = await cli(['token'])
  const second = await cli(['token'])
  expect(first.code, first.stderr).toBe(0)
  const token = first.stdout.trim()
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  expect(second.stdout.trim()).toBe(token)
  expect(emulator.stats.refreshAttempts).toBe(0)
  await expectAccepted(emulator, token)
}

/** Marks the stored token expired, so `token` must refresh it (under the file locks) and mirror it. */
const tokenRefresh: Scenario = async ({ cli, emulator, home }) => {
  const ctx = createContext({ QWEN_HOME: home })
  const before = await ctx.accounts.update((doc) => {
    for (const account of doc.accounts) account.expiresAt = Date.now() - 1_000
    return doc.accounts[0]?.accessToken
  })
  const result = await cli(['token'])
  expect(result.code, result.stderr).toBe(0)
  const token = result.stdout.trim()
  expect(token).not.toBe(before.result)
  expect(emulator.stats.refreshes).toBe(1)
  await expectAccepted(emulator, token)
  const mirrored = JSON.parse(readFileSync(join(home, 'oauth_creds.json'), 'utf8')) as { access_token: string }
  expect(mirrored.access_token).toBe(token)
}

/** In order; each later scenario may rely on the earlier ones. Add `exec` and `serve` here. */
const SCENARIOS: Array<[name: string, scenario: Scenario]> = [
  ['login (device flow, approved)', login],
  ['status --json', statusJson],
  ['token (cached)', tokenCached],
  ['token (refreshed after expiry)', tokenRefresh],
]

// --- the table ---------------------------------------------------------------------------------

for (const runtime of RUNTIMES) {
  const [command = '', ...prefix] = runtime.argv()
  describe.skipIf(!existsSync(command))(runtime.name, () => {
    const journey = {} as Journey
    let cleanup = () => {}

    beforeAll(async () => {
      const home = tempHome()
      cleanup = home.cleanup
      journey.home = home.home
      journey.emulator = await startEmulator({ autoApprove: true, interval: 0.2 })
      journey.cli = (args, options = {}) => {
        const env = { QWENAUTH_OAUTH_URL: journey.emulator.url, ...options.env }
        // cwd in the private home: Bun would otherwise read a .env from wherever the test runs.
        const child = spawn(command, [...prefix, ...args], { cwd: journey.home, env: cliEnv({ home: journey.home, env }), stdio: ['pipe', 'pipe', 'pipe'] })
        return collect(child, options.input, 30_000)
      }
    })

    afterAll(async () => {
      await journey.emulator?.close()
      cleanup()
    })

    for (const [name, scenario] of SCENARIOS) it(name, () => scenario(journey), 60_000)
  })
}
