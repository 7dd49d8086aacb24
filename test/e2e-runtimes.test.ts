/**
 * The same user journey under every way qwenauth ships: the Node bundle (npm), Bun on the
 * sources, Deno on the sources, and the compiled binary. A table of runtimes × scenarios; the
 * scenarios of one runtime run in order against one QWEN_HOME and one emulator, so a scenario
 * may rely on the ones before it (everything after `login` has a logged-in account).
 * A runtime is skipped only when its executable is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process'
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
  /** Starts qwenauth under this runtime with QWEN_HOME and the emulator's OAuth URL set. */
  spawn: (args: string[], env?: Record<string, string | undefined>) => ChildProcess
  /** The same, run to completion (bounded by 30 s). */
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

const tokenCached: Scenario = async ({ cli, emulator, home }) => {
  const result = await cli(['token'])
  expect(result.code, result.stderr).toBe(0)
  const token = result.stdout.trim()
  expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  // The token login stored, not a refreshed one.
  expect(emulator.stats.refreshAttempts).toBe(0)
  expect(token).toBe(await storedToken(home))
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

/** The stored access token of the (only) account, as the emulator must see it upstream. */
async function storedToken(home: string): Promise<string> {
  const ctx = createContext({ QWEN_HOME: home })
  const token = await ctx.accounts.read().then((doc) => doc.accounts[0]?.accessToken).finally(() => ctx.close())
  if (!token) throw new Error('no stored access token')
  return token
}

/** The chat completions the emulator answered since `since` (an index into its request log). */
const chatsSince = (emulator: Emulator, since: number) => emulator.requests.slice(since).filter((r) => r.path === '/v1/chat/completions')

/**
 * A program configured only by the environment `exec` gives it: curl to
 * $OPENAI_BASE_URL/chat/completions with $OPENAI_API_KEY, printing the key it got, the answer and
 * its status, then "ready". SIGTERM makes it exit 7 (the shell takes a trap between commands:
 * within a tenth of a second, and no process of its own is left); after 10 s it exits 0 by
 * itself. A shell and curl, not node: the program is not what runs under each runtime, and node
 * would cost more than qwenauth here.
 */
const EXEC_CHILD = `trap 'exit 7' TERM
echo "key: $OPENAI_API_KEY"
curl -s --max-time 15 -w '\\nstatus: %{http_code}\\n' -H "authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' -d "{\\"model\\":\\"$OPENAI_MODEL\\",\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"hi\\"}]}" "$OPENAI_BASE_URL/chat/completions"
echo ready
i=0
while [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done`

/**
 * exec: the child reaches the emulator through the private proxy, with a one-time key; SIGTERM
 * sent to qwenauth reaches the child, and the child's exit code comes back as qwenauth's.
 */
const exec: Scenario = async ({ spawn: start, emulator, home }) => {
  const since = emulator.requests.length
  const token = await storedToken(home)
  await withProcess(start, ['exec', '--', 'sh', '-c', EXEC_CHILD], async ({ child, stderr, stop }) => {
    const said = await fromStdout(child, /^([\s\S]*)^ready$/m, stderr)
    expect(said).toContain('status: 200')
    expect(said).toContain('"content":"Hello from the Qwen emulator')
    const childKey = /^key: (.+)$/m.exec(said)?.[1]
    expect(childKey).toMatch(/^qwenauth-exec-/)
    expect(childKey).not.toBe(token)
    expect(await stop('SIGTERM'), stderr()).toBe(7)
  })
  // Upstream, the proxy put the account's real token in its place.
  expect(chatsSince(emulator, since).map((r) => r.auth)).toEqual([token])
}

/** The first match of `pattern` on the child's stdout (10 s at most, and not after it exits). */
function fromStdout(child: ChildProcess, pattern: RegExp, stderr: () => string): Promise<string> {
  let stdout = ''
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`${why}, no ${pattern} on stdout\nstdout: ${stdout}\nstderr: ${stderr()}`))
    const timer = setTimeout(() => fail('10 s passed'), 10_000)
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      const match = pattern.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(match[1] ?? match[0])
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      fail(`exited with ${code}`)
    })
  })
}

/**
 * Starts a long-running qwenauth, hands it to `body`, and always ends it: `body` gets the
 * process, its stderr so far, and `stop(signal)`, which resolves with the exit code (10 s at most).
 */
async function withProcess(start: Journey['spawn'], args: string[], body: (p: { child: ChildProcess; stderr: () => string; stop: (signal: NodeJS.Signals) => Promise<number | string | null> }) => Promise<void>): Promise<void> {
  const child = start(args)
  child.stdin?.end()
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const stop = (signal: NodeJS.Signals) => {
    child.kill(signal)
    return Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve(`still running 10 s after ${signal}`), 10_000))])
  }
  try {
    await body({ child, stderr: () => stderr, stop })
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

/** serve: prints its base URL, answers one chat request with the account's token, exits 0 on SIGTERM. */
const serve: Scenario = async ({ spawn: start, cli, emulator, home }) => {
  const since = emulator.requests.length
  const token = await storedToken(home)
  await withProcess(start, ['serve', '--port', '0'], async ({ child, stderr, stop }) => {
    const baseUrl = await fromStdout(child, /^(http:\/\/127\.0\.0\.1:\d+\/v1)$/m, stderr)
    const response = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }] }),
      signal: AbortSignal.timeout(15_000),
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { choices: Array<{ message: { content: string } }> }
    expect(body.choices[0]?.message.content).toMatch(/^Hello from the Qwen emulator/)
    expect(chatsSince(emulator, since).map((r) => r.auth)).toEqual([token])
    // A second serve on the same port: one line and exit 2 (Bun and Deno throw where Node waits).
    const busy = await cli(['serve', '--port', new URL(baseUrl).port])
    expect([busy.code, busy.stderr]).toMatchObject([2, expect.stringMatching(/cannot listen on 127\.0\.0\.1:\d+: /)])
    expect(await stop('SIGTERM'), stderr()).toBe(0)
    expect(stderr()).not.toContain(token)
  })
}

/** In order; each later scenario may rely on the earlier ones. */
const SCENARIOS: Array<[name: string, scenario: Scenario]> = [
  ['login (device flow, approved)', login],
  ['status --json', statusJson],
  ['token (cached)', tokenCached],
  ['token (refreshed after expiry)', tokenRefresh],
  ["exec (private proxy, one-time key; SIGTERM passed on, the program's exit code)", exec],
  ['serve (one request, SIGTERM)', serve],
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
      journey.emulator = await startEmulator({ autoApprove: true, interval: 0.05 })
      journey.spawn = (args, env = {}) =>
        // cwd in the private home: Bun would otherwise read a .env from wherever the test runs.
        spawn(command, [...prefix, ...args], { cwd: journey.home, env: cliEnv({ home: journey.home, env: { QWENAUTH_OAUTH_URL: journey.emulator.url, ...env } }), stdio: ['pipe', 'pipe', 'pipe'] })
      journey.cli = (args, options = {}) => collect(journey.spawn(args, options.env), options.input, 30_000)
    })

    afterAll(async () => {
      await journey.emulator?.close()
      cleanup()
    })

    for (const [name, scenario] of SCENARIOS) it(name, () => scenario(journey), 60_000)
  })
}
