/**
 * Bench section: `qwenauth serve` (the compiled binary) under many slow streams at once, and
 * with upstream answers far past what it holds for one request. Figures: failures, time to
 * first byte, and the peak RSS of the serve process.
 *
 * - 1,000 and 2,000 streams opened at once, each 10 events 200 ms apart (2 s of streaming),
 *   against a local upstream in its own process.
 * - A 512 MiB JSON answer and a 64 MiB SSE event that never ends, with the default limits and
 *   with the limits raised to 1 GiB (what serve held before it had limits).
 *
 *   bun scripts/bench/streams.ts             this section alone
 *   bun scripts/bench/streams.ts --upstream  (internal) the upstream process
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ensureBinary, startProcess } from './serve.ts'

const root = resolve(import.meta.dirname, '../..')
const bun = join(root, 'node_modules/.bin/bun')
const binary = join(root, 'dist/qwenauth')
const MIB = 1024 * 1024

const EVENTS = 10
const EVENT_GAP_MS = 200

/** The upstream: slow streams, a huge JSON answer, an SSE event that never ends. */
async function runUpstream(): Promise<void> {
  const event = (n: number) => `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"e${n} "},"finish_reason":null}]}\n\n`
  const piece = Buffer.alloc(MIB, 'a')
  /** `total` bytes of filler after `head`, a MiB at a time as the socket takes them. */
  const pour = (res: import('node:http').ServerResponse, head: string, total: number, tail: string) => {
    res.write(head)
    let sent = 0
    const next = () => {
      while (!res.destroyed && sent < total) {
        sent += piece.length
        if (!res.write(piece)) return void res.once('drain', next)
      }
      if (!res.destroyed) res.end(tail)
    }
    next()
  }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d))
    req.on('end', () => {
      const model = (JSON.parse(body) as { model?: string }).model
      if (model === 'huge-json') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return pour(res, '{"choices":[{"message":{"content":"', 512 * MIB, '"}}]}')
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      if (model === 'endless-event') return pour(res, 'data: {"x":"', 64 * MIB, '"}\n\n')
      let n = 0
      res.write(event(n++))
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer)
        if (n < EVENTS) return void res.write(event(n++))
        clearInterval(timer)
        res.end('data: [DONE]\n\n')
      }, EVENT_GAP_MS)
    })
  })
  server.keepAliveTimeout = 0
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/v1` })}\n`)
}

/** Peak and current RSS of a process, in MiB (Linux). */
function rssOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return { peak: kib('VmHWM') / 1024, now: kib('VmRSS') / 1024 }
}

interface Serve {
  url: string
  pid: number
  /** SIGKILL, the exit awaited, then its QWEN_HOME removed (a draining serve would write to it). */
  stop(): Promise<void>
}

async function startServe(upstreamUrl: string, env: NodeJS.ProcessEnv): Promise<Serve> {
  const home = mkdtempSync(join(tmpdir(), 'qwenauth-bench-streams-'))
  const removeHome = () => rmSync(home, { recursive: true, force: true })
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, QWEN_HOME: home, NO_COLOR: '1', CI: '1', ...env }
  const login = spawnSync(binary, ['login', '--provider', upstreamUrl, '--no-verify'], { env: base, input: 'bench-upstream-key-0123456789', encoding: 'utf8' })
  if (login.status !== 0) {
    removeHome()
    throw new Error(`login --provider failed: ${login.stderr}`)
  }
  // Its log (a line per request) is not read: 2,000 lines a run would only cost the bench.
  const serve = await startProcess(binary, ['serve', '--port', '0'], base, /^(http:\/\/\S+\/v1)$/m).catch((error: unknown) => {
    removeHome()
    throw error
  })
  const exited = new Promise<void>((resolvePromise) => serve.child.once('exit', () => resolvePromise()))
  return {
    url: serve.match,
    pid: serve.child.pid as number,
    async stop() {
      if (serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill('SIGKILL')
      await exited
      removeHome()
    },
  }
}

interface Outcome {
  ok: boolean
  ttfbMs: number
  text: string
}

/** One chat request over node:http (Bun's fetch would queue past 256 in this process too). */
function chat(agent: Agent, url: string, model: string, stream: boolean): Promise<Outcome> {
  const started = performance.now()
  return new Promise((resolvePromise) => {
    let ttfbMs = 0
    let text = ''
    const req = request(`${url}/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        if (!ttfbMs) ttfbMs = performance.now() - started
        // Keep the ends only: the large answers are the point, not this process's memory.
        text = text.length > 4096 ? text.slice(-2048) + chunk.slice(-2048) : text + chunk
      })
      res.on('end', () => resolvePromise({ ok: res.statusCode === 200 && (!stream || text.includes('[DONE]')), ttfbMs, text }))
      res.on('error', () => resolvePromise({ ok: false, ttfbMs, text }))
    })
    req.on('error', (error) => resolvePromise({ ok: false, ttfbMs, text: String(error) }))
    req.end(JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream }))
  })
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

export interface StreamsRun {
  streams: number
  failures: number
  ttfbP50: number
  ttfbP99: number
  wallMs: number
  rssPeakMiB: number
}

export interface LargeAnswerRun {
  scenario: string
  limits: string
  outcome: string
  ms: number
  rssBeforeMiB: number
  rssPeakMiB: number
}

export interface StreamsBenchResult {
  streams: StreamsRun[]
  large: LargeAnswerRun[]
}

export async function benchStreams(options: { log?: (line: string) => void; counts?: number[] } = {}): Promise<StreamsBenchResult> {
  const log = options.log ?? (() => {})
  ensureBinary(log)
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY })
  let upstream: ChildProcess | undefined
  let serve: Serve | undefined
  try {
    const upstreamProcess = await startProcess(bun, [fileURLToPath(import.meta.url), '--upstream'], process.env, /"url":"([^"]+)"/)
    upstream = upstreamProcess.child
    const upstreamUrl = upstreamProcess.match
    const result: StreamsBenchResult = { streams: [], large: [] }
    for (const count of options.counts ?? [1000, 2000]) {
      // A fresh serve per run: its peak RSS is this run's.
      const current = (serve = await startServe(upstreamUrl, {}))
      log(`streams: ${count} at once`)
      const started = performance.now()
      const outcomes = await Promise.all(Array.from({ length: count }, () => chat(agent, current.url, 'slow-stream', true)))
      const ttfbs = outcomes.filter((o) => o.ok).map((o) => o.ttfbMs).sort((a, b) => a - b)
      result.streams.push({
        streams: count,
        failures: outcomes.filter((o) => !o.ok).length,
        ttfbP50: percentile(ttfbs, 0.5),
        ttfbP99: percentile(ttfbs, 0.99),
        wallMs: performance.now() - started,
        rssPeakMiB: rssOf(current.pid).peak,
      })
      await current.stop()
    }
    const limitSets: Array<[string, NodeJS.ProcessEnv]> = [
      ['defaults (64 MiB answer, 16 MiB event)', {}],
      ['raised to 1 GiB (no limit in effect)', { QWENAUTH_MAX_ANSWER_BYTES: String(1024 * MIB), QWENAUTH_MAX_EVENT_BYTES: String(1024 * MIB) }],
    ]
    for (const [limits, env] of limitSets) {
      for (const [scenario, model, stream] of [['512 MiB JSON answer', 'huge-json', false], ['64 MiB SSE event, no blank line', 'endless-event', true]] as const) {
        const current = (serve = await startServe(upstreamUrl, env))
        log(`large answers: ${scenario}, limits ${limits}`)
        const rssBeforeMiB = rssOf(current.pid).now
        const started = performance.now()
        const outcome = await chat(agent, current.url, model, stream)
        const code = /"code":"([a-z_]+)"/.exec(outcome.text)?.[1]
        result.large.push({
          scenario,
          limits,
          outcome: code ? `error \`${code}\`` : outcome.ok || outcome.text.length > 0 ? 'passed on whole' : 'failed',
          ms: performance.now() - started,
          rssBeforeMiB,
          rssPeakMiB: rssOf(current.pid).peak,
        })
        await current.stop()
      }
    }
    return result
  } finally {
    agent.destroy()
    await serve?.stop()
    upstream?.kill('SIGTERM')
  }
}

const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(0)} ms`)

export function formatStreams(result: StreamsBenchResult): string {
  const lines = [
    '### qwenauth serve: many slow streams, large answers',
    '',
    `Compiled binary, loopback, a local upstream (its own process) sending ${EVENTS} events ${EVENT_GAP_MS} ms apart; all streams opened at once; ${process.platform}-${process.arch}.`,
    '',
    '| streams at once | failed | time to first byte p50 / p99 | all done in | serve RSS peak |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...result.streams.map((r) => `| ${r.streams} | ${r.failures} | ${ms(r.ttfbP50)} / ${ms(r.ttfbP99)} | ${ms(r.wallMs)} | ${r.rssPeakMiB.toFixed(0)} MiB |`),
    '',
    '| upstream answer | limits | client got | in | serve RSS before → peak |',
    '| --- | --- | --- | ---: | ---: |',
    ...result.large.map((r) => `| ${r.scenario} | ${r.limits} | ${r.outcome} | ${ms(r.ms)} | ${r.rssBeforeMiB.toFixed(0)} → ${r.rssPeakMiB.toFixed(0)} MiB |`),
  ]
  return `${lines.join('\n')}\n`
}

export async function streamsSection(options: { log?: (line: string) => void } = {}): Promise<string> {
  return formatStreams(await benchStreams(options))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--upstream')) await runUpstream()
  else process.stdout.write(await streamsSection({ log: (line) => console.error(line) }))
}
