/**
 * The real opencode (opencode-ai, pinned) through qwenauth, offline: `opencode run` against
 * `serve` with the README's provider block, on a Coding Plan key (which serves coding agents
 * only, by User-Agent), and under `qwenauth exec -- opencode run` with a bash tool round trip
 * scripted through the emulator.
 *
 * opencode never reaches the network here: models.dev, auto-update and sharing are switched off
 * by its own variables, and every HTTP(S) proxy variable names a local trap that records and
 * refuses whatever would still go out (the test asserts it saw nothing). HOME, the XDG
 * directories and TMPDIR are a private directory removed afterwards.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startProxyServer } from '../src/proxy/server.ts'
import { collect, runCli, type CliResult } from './helpers/cli.ts'
import { repoRoot } from './helpers/exec-fixtures.ts'
import { addKeyAccount, loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const bin = join(repoRoot, 'node_modules/.bin')
const OPENCODE = join(bin, 'opencode')
const OPENCODE_VERSION = '1.18.33'
const OPENCODE_TIMEOUT_MS = 60_000

/** The README's provider block ("opencode"), with the given address and key. */
function providerConfig(baseURL: string, apiKey: string): Record<string, unknown> {
  return {
    $schema: 'https://opencode.ai/config.json',
    model: 'qwenauth/coder-model',
    provider: {
      qwenauth: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Qwen via qwenauth',
        options: { baseURL, apiKey },
        models: { 'coder-model': { name: 'Qwen Coder', limit: { context: 1000000, output: 65536 } } },
      },
    },
  }
}

interface Sandbox {
  root: string
  home: string
  work: string
  /** Requests that tried to leave the machine through the proxy variables. */
  trapped: string[]
  trapUrl: string
  trap: Server
}

async function sandbox(): Promise<Sandbox> {
  const root = mkdtempSync(join(tmpdir(), 'qwenauth-opencode-'))
  const home = join(root, 'home')
  const work = join(root, 'work')
  for (const dir of [home, work, join(root, 'tmp')]) mkdirSync(dir)
  // What opencode's first (online) run leaves in its config directory: without it opencode
  // installs its plugin package from the npm registry there at every start.
  const config = join(home, '.config/opencode')
  mkdirSync(join(config, 'node_modules'), { recursive: true })
  writeFileSync(join(config, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: { '@opencode-ai/plugin': OPENCODE_VERSION } } } }))
  const trapped: string[] = []
  const trap = createServer((req, res) => {
    trapped.push(`${req.method} ${req.url}`)
    res.writeHead(502).end()
  })
  trap.on('connect', (req, socket) => {
    trapped.push(`CONNECT ${req.url}`)
    socket.destroy()
  })
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
  return { root, home, work, trapped, trap, trapUrl: `http://127.0.0.1:${(trap.address() as AddressInfo).port}` }
}

/** opencode's whole environment: nothing inherited but PATH (node_modules/.bin first). */
function opencodeEnv(box: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  const proxy = box.trapUrl
  return {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: box.home,
    XDG_CONFIG_HOME: join(box.home, '.config'),
    XDG_DATA_HOME: join(box.home, '.local/share'),
    XDG_STATE_HOME: join(box.home, '.local/state'),
    XDG_CACHE_HOME: join(box.home, '.cache'),
    // Bun extracts opencode's native libraries here.
    TMPDIR: join(box.root, 'tmp'),
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_SHARE: '1',
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    ALL_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...extra,
  }
}

/**
 * `opencode run` arguments: JSON events on stdout; a title given, so opencode sends no request
 * of its own to name the session (it would take a scripted reply meant for the prompt).
 */
const runArgs = (prompt: string) => ['run', '--format', 'json', '--title', 'qwenauth test', prompt]

interface RunEvent {
  type: string
  part: { type: string; text?: string; tool?: string; state?: { status: string; input: unknown; output: string } }
}

function events(result: CliResult): RunEvent[] {
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as RunEvent)
}

const answer = (result: CliResult) =>
  events(result)
    .filter((e) => e.type === 'text')
    .map((e) => e.part.text)
    .join('')

/** Whether the pinned binary runs on this machine at all (a platform without a build: skip). */
function opencodeRuns(): string | undefined {
  const root = mkdtempSync(join(tmpdir(), 'qwenauth-opencode-probe-'))
  try {
    const probe = spawnSync(OPENCODE, ['--version'], { env: { PATH: process.env.PATH ?? '', HOME: root, TMPDIR: root }, encoding: 'utf8', timeout: 20_000 })
    if (probe.status === 0 && probe.stdout.trim() === OPENCODE_VERSION) return undefined
    return `opencode ${OPENCODE_VERSION} cannot run on ${process.platform}-${process.arch}: ${probe.error?.message ?? `exit ${probe.status}: ${probe.stderr || probe.stdout}`}`
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

const cannotRun = opencodeRuns()
if (cannotRun) console.warn(`skipping the opencode tests: ${cannotRun}`)

let fx: ProxyFixture | undefined
let box: Sandbox
beforeEach(async () => {
  box = await sandbox()
})
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
  await new Promise((resolve) => box.trap.close(resolve))
  rmSync(box.root, { recursive: true, force: true })
})

describe.skipIf(cannotRun)('opencode', () => {
  it("runs against serve with the README's provider block; its User-Agent gets through a Coding Plan key", async () => {
    fx = await proxyFixture({ extraModels: ['qwen3.5-plus', 'qwen3.6-plus'] })
    const plan = await addKeyAccount(fx, 'sk-sp-opencode-000000000', 'coding-plan-0001', { provider: 'coding-plan', label: 'coding-plan-0001' })
    fx.emu.setKeyPlan(plan.apiKey!, { kind: 'coding-plan' })
    const key = 'sk-serve-opencode-0123456789'
    const server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [key], log: () => {} })
    writeFileSync(join(box.home, '.config/opencode/opencode.json'), JSON.stringify(providerConfig(`${server.url}/v1`, '{env:QWENAUTH_KEY}'), null, 2))
    try {
      fx.emu.queueReplies({ text: 'Hi from Qwen through serve.' })
      const child = spawn(OPENCODE, runArgs('say hi'), { cwd: box.work, env: opencodeEnv(box, { QWENAUTH_KEY: key }), stdio: ['ignore', 'pipe', 'pipe'] })
      const result = await collect(child, undefined, OPENCODE_TIMEOUT_MS)
      expect(result.code, result.stderr).toBe(0)
      expect(answer(result)).toBe('Hi from Qwen through serve.')
      const [request, ...more] = fx.emu.requests
      expect(more).toEqual([])
      expect(request?.path).toBe('/v1/chat/completions')
      expect([request?.auth, request?.status]).toEqual([plan.apiKey, 200])
      // The plan's gate (emulator: CODING_AGENTS) let opencode's own User-Agent through.
      expect(request?.headers['user-agent']).toMatch(new RegExp(`^opencode/${OPENCODE_VERSION.replace(/\./g, '\\.')} `))
      expect(box.trapped).toEqual([])
    } finally {
      await server.close()
    }
  }, OPENCODE_TIMEOUT_MS + 10_000)

  it("runs under `qwenauth exec -- opencode run` with no provider of the user's: a bash tool call, its result back to the model, the answer", async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'opencode@example.com')
    // A user whose opencode uses another provider; exec's config variable wins over the model
    // and leaves the file as it was.
    const userConfig = join(box.home, '.config/opencode/opencode.json')
    const own = `${JSON.stringify({ $schema: 'https://opencode.ai/config.json', model: 'anthropic/claude-sonnet-4-5', autoupdate: false }, null, 2)}\n`
    writeFileSync(userConfig, own)
    fx.emu.queueReplies(
      { toolCalls: [{ name: 'bash', arguments: { command: 'echo hello-from-tool > tool-out.txt', description: 'Write a file' }, id: 'call_bash' }] },
      { text: 'The file is written.' },
    )
    const inherited = Object.fromEntries(Object.keys(process.env).filter((k) => /^(OPENCODE_|XDG_|OTEL_)/.test(k)).map((k) => [k, undefined]))
    const result = await runCli(['exec', '--', 'opencode', ...runArgs('write the file')], {
      home: fx.home,
      cwd: box.work,
      // PWD as a shell sets it: opencode takes its project directory from PWD before the cwd.
      env: { ...inherited, QWENAUTH_OAUTH_URL: fx.emu.url, ...opencodeEnv(box, { PWD: box.work }) },
      timeoutMs: OPENCODE_TIMEOUT_MS,
    })
    expect(result.code, result.stderr).toBe(0)
    expect(answer(result)).toBe('The file is written.')
    const tool = events(result).find((e) => e.type === 'tool_use')?.part
    expect([tool?.tool, tool?.state?.status]).toEqual(['bash', 'completed'])
    expect(readFileSync(join(box.work, 'tool-out.txt'), 'utf8')).toBe('hello-from-tool\n')

    const bodies = fx.emu.requests.map((r) => r.body as { model: string; tools: Array<{ function: { name: string } }>; messages: Array<{ role: string; tool_call_id?: string }> })
    expect(bodies).toHaveLength(2)
    expect(bodies[0]?.model).toBe('coder-model')
    expect(bodies[0]?.tools.map((t) => t.function.name)).toEqual(expect.arrayContaining(['bash', 'read', 'edit', 'write']))
    expect(bodies[1]?.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'call_bash' })
    expect(readFileSync(userConfig, 'utf8')).toBe(own)
    expect(box.trapped).toEqual([])
  }, OPENCODE_TIMEOUT_MS + 10_000)
})
