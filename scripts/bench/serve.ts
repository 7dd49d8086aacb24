/**
 * Bench section: the same chat requests sent straight to the Qwen emulator and through
 * `qwenauth serve` (the compiled binary), on loopback: requests per second, p50/p99 latency,
 * time to first byte of a stream, and the gap between streamed events when the upstream paces
 * them. Every run is bounded in requests and time, so the section takes well under a minute.
 *
 *   bun scripts/bench/serve.ts     this section alone
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { load, type RunFigures } from './load.ts'
import { formatResponses, responsesInit, type ResponsesRun } from './responses.ts'

const root = resolve(import.meta.dirname, '../..')
export const bun = join(root, 'node_modules/.bin/bun')
const binary = join(root, 'dist/qwenauth')

export interface ServeBenchOptions {
  /** Requests per measured run (default 3000 JSON, half as many streams). */
  requests?: number
  /** Requests in flight at once (default 8). */
  concurrency?: number
  /** Upper bound of one measured run (default 6 s). */
  maxRunMs?: number
  log?: (line: string) => void
}

export interface ServeBenchResult {
  concurrency: number
  runs: Array<{ scenario: string; direct: RunFigures; proxied: RunFigures }>
  responses: ResponsesRun[]
}

/** Starts a process and resolves with the first stdout line that matches. */
export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, pattern: RegExp): Promise<{ child: ChildProcess; match: string }> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      // Not left running behind the bench.
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} printed nothing useful: ${out}`))
    }, 15_000)
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk
      const match = pattern.exec(out)
      if (match?.[1]) {
        clearTimeout(timer)
        resolvePromise({ child, match: match[1] })
      }
    })
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}: ${out}`)))
  })
}

function newestSourceMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** The binary must be the current code: built when missing or older than src/. */
export function ensureBinary(log: (line: string) => void): void {
  if (existsSync(binary) && statSync(binary).mtimeMs >= newestSourceMtime(join(root, 'src'))) return
  log('serve: building dist/ (npm run build)')
  const build = spawnSync(bun, [join(root, 'scripts/build.ts')], { cwd: root, encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`)
}

/** Undoes one thing a bench started; run in reverse order, each awaited. */
export type Cleanup = () => void | Promise<void>

/** Signals a process and waits for it to exit (10 s at most, then SIGKILL): its files are written by then. */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolveStop()
    })
    child.kill(signal)
  })
}

export async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
}

export interface Target {
  emulatorUrl: string
  serveUrl: string
  token: string
  /** The serve process (for its RSS) and what it was started with. */
  servePid: number
  home: string
  env: NodeJS.ProcessEnv
}

/** An emulator process, a QWEN_HOME logged in against it, and `qwenauth serve` on that home. */
export async function startTarget(extraEmulatorArgs: string[], cleanups: Cleanup[], serveEnv: NodeJS.ProcessEnv = {}): Promise<Target> {
  const emulator = await startProcess(
    bun,
    [join(root, 'test/fixtures/emulator-cli.ts'), '--port', '0', '--auto-approve', '--interval', '0.05', '--no-enforce-interval', ...extraEmulatorArgs],
    process.env,
    /"url":"([^"]+)"/,
  )
  cleanups.push(() => stopProcess(emulator.child))
  const home = mkdtempSync(join(tmpdir(), 'qwenauth-bench-serve-'))
  cleanups.push(() => rmSync(home, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, QWEN_HOME: home, QWENAUTH_OAUTH_URL: emulator.match, QWENAUTH_NO_BROWSER: '1', NO_COLOR: '1', CI: '1' }
  const login = spawnSync(binary, ['login', '--no-browser'], { env, encoding: 'utf8', timeout: 30_000 })
  if (login.status !== 0) throw new Error(`login against the emulator failed: ${login.stderr}`)
  const token = spawnSync(binary, ['token'], { env, encoding: 'utf8', timeout: 30_000 }).stdout.trim()
  const serve = await startServe(['--port', '0'], { ...env, ...serveEnv }, cleanups)
  return { emulatorUrl: `${emulator.match}/v1`, serveUrl: serve.url, token, servePid: serve.pid, home, env }
}

/** `qwenauth serve` (the binary) with these arguments; stopped by the cleanups. */
export async function startServe(args: string[], env: NodeJS.ProcessEnv, cleanups: Cleanup[]): Promise<{ url: string; pid: number }> {
  const serve = await startProcess(binary, ['serve', ...args], env, /^(http:\/\/\S+\/v1)$/m)
  // Awaited: serve writes its counters as it stops, and its home goes after it.
  cleanups.push(() => stopProcess(serve.child))
  return { url: serve.match, pid: serve.child.pid ?? 0 }
}

export function chatInit(stream: boolean, token?: string): RequestInit {
  const ua = `QwenCode/0.24.4 (${process.platform}; ${process.arch})`
  // Direct requests carry what the proxy adds, so both sides ask the emulator the same thing.
  const auth: Record<string, string> = token
    ? { authorization: `Bearer ${token}`, 'user-agent': ua, 'x-dashscope-useragent': ua, 'x-dashscope-cachecontrol': 'enable', 'x-dashscope-authtype': 'qwen-oauth' }
    : {}
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'Say hello.' }], stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
  }
}

/** The options with their defaults, once the binary is current. */
export function prepare(options: ServeBenchOptions): Required<ServeBenchOptions> {
  const settings = { log: () => {}, concurrency: 8, requests: 3000, maxRunMs: 6000, ...options }
  ensureBinary(settings.log)
  return settings
}

export async function benchServe(options: ServeBenchOptions = {}): Promise<ServeBenchResult> {
  const { concurrency, requests, maxRunMs, log } = prepare(options)
  const cleanups: Cleanup[] = []
  try {
    const fast = await startTarget([], cleanups)
    const paced = await startTarget(['--stream-delay-ms', '10'], cleanups)
    const runs: ServeBenchResult['runs'] = []
    const measure = async (scenario: string, target: Target, stream: boolean, count: number, inFlight: number) => {
      const url = `${target.emulatorUrl}/chat/completions`
      const viaServe = `${target.serveUrl}/chat/completions`
      // Warm-up: connections, JIT, the proxy's account snapshot.
      await load(url, chatInit(stream, target.token), 100, inFlight, 2000)
      await load(viaServe, chatInit(stream), 100, inFlight, 2000)
      log(`serve: ${scenario}, direct`)
      const direct = await load(url, chatInit(stream, target.token), count, inFlight, maxRunMs)
      log(`serve: ${scenario}, via qwenauth serve`)
      const proxied = await load(viaServe, chatInit(stream), count, inFlight, maxRunMs)
      runs.push({ scenario, direct, proxied })
    }
    await measure('chat, JSON', fast, false, requests, concurrency)
    await measure('chat, stream', fast, true, Math.ceil(requests / 2), concurrency)
    // One stream at a time against an upstream that waits 10 ms between events: any delay the
    // proxy adds per event shows in the gap between chunks.
    await measure('stream, 10 ms between events', paced, true, 30, 1)
    // The Responses route against chat passthrough, both through serve: two rounds taken in
    // turn, the better of each kept, so a busy moment of the machine does not land on one side.
    const responses: ResponsesRun[] = []
    for (const [scenario, stream, count] of [['responses, JSON', false, requests], ['responses, stream', true, Math.ceil(requests / 2)]] as const) {
      const chatRun = () => load(`${fast.serveUrl}/chat/completions`, chatInit(stream), count, concurrency, maxRunMs)
      const responsesRun = () => load(`${fast.serveUrl}/responses`, responsesInit(stream), count, concurrency, maxRunMs)
      await load(`${fast.serveUrl}/responses`, responsesInit(stream), 100, concurrency, 2000)
      const rounds: Array<[RunFigures, RunFigures]> = []
      for (let round = 1; round <= 2; round++) {
        log(`serve: ${scenario}, chat and responses through serve, round ${round}`)
        rounds.push([await chatRun(), await responsesRun()])
      }
      const best = (side: 0 | 1) => rounds.map((r) => r[side]).reduce((a, b) => (b.p50 < a.p50 ? b : a))
      responses.push({ scenario, chat: best(0), responses: best(1) })
    }
    return { concurrency, runs, responses }
  } finally {
    await runCleanups(cleanups)
  }
}

const ms = (n: number) => `${n.toFixed(2)} ms`
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '-')
const added = (proxied: number, direct: number) => `${proxied - direct >= 0 ? '+' : ''}${(proxied - direct).toFixed(2)} ms`

/** The section as Markdown, ready for the README. */
export function formatServe(result: ServeBenchResult): string {
  const lines = [
    '### qwenauth serve vs direct',
    '',
    `Loopback, Qwen emulator upstream, compiled binary, ${result.concurrency} requests in flight (1 for the paced stream); ${process.platform}-${process.arch}.`,
    '',
    '| scenario | metric | direct | via serve | ratio | added |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ]
  for (const { scenario, direct: d, proxied: p } of result.runs) {
    if (scenario.includes('between events')) {
      lines.push(`| ${scenario} | time to first byte p50 | ${ms(d.ttfbP50)} | ${ms(p.ttfbP50)} | ${ratio(p.ttfbP50, d.ttfbP50)} | ${added(p.ttfbP50, d.ttfbP50)} |`)
      lines.push(`| ${scenario} | gap between events (mean) | ${ms(d.eventGap)} | ${ms(p.eventGap)} | ${ratio(p.eventGap, d.eventGap)} | ${added(p.eventGap, d.eventGap)} |`)
      continue
    }
    lines.push(`| ${scenario} | requests/s (${d.requests} / ${p.requests} requests) | ${d.rps.toFixed(0)} | ${p.rps.toFixed(0)} | ${ratio(p.rps, d.rps)} | |`)
    lines.push(`| ${scenario} | latency p50 | ${ms(d.p50)} | ${ms(p.p50)} | ${ratio(p.p50, d.p50)} | ${added(p.p50, d.p50)} |`)
    lines.push(`| ${scenario} | latency p99 | ${ms(d.p99)} | ${ms(p.p99)} | ${ratio(p.p99, d.p99)} | ${added(p.p99, d.p99)} |`)
    if (scenario.includes('stream')) {
      lines.push(`| ${scenario} | time to first byte p50 | ${ms(d.ttfbP50)} | ${ms(p.ttfbP50)} | ${ratio(p.ttfbP50, d.ttfbP50)} | ${added(p.ttfbP50, d.ttfbP50)} |`)
    }
  }
  return `${lines.join('\n')}\n\n${formatResponses(result.responses)}`
}

/** One call for the bench runner: runs the section and returns its Markdown (the Anthropic translation's table too). */
export async function serveSection(options: ServeBenchOptions = {}): Promise<string> {
  const { anthropicSection } = await import('./anthropic.ts')
  return `${formatServe(await benchServe(options))}\n${await anthropicSection(options)}`
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(await serveSection({ log: (line) => console.error(line) }))
}
