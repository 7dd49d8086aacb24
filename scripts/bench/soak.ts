/**
 * Bench section: a soak. `qwenauth serve` (the compiled binary) under steady load from `wrk` for
 * ten minutes (QWENAUTH_BENCH_SOAK_SECONDS to change it), every request kind it serves in turn
 * (chat completions JSON and streamed, Anthropic Messages JSON and streamed, Responses kept for
 * later), with an access token that expires every two minutes, so refreshes happen under load.
 * The serve process's RSS is read after every slice of load and once more after it stands idle:
 * memory must stay flat, not grow with the requests served.
 *
 *   bun scripts/bench/soak.ts     this section alone
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { rssMb } from './proxy.ts'
import { ensureBinary, runCleanups, startTarget, type Cleanup } from './serve.ts'

const SOAK_SECONDS = Number(process.env.QWENAUTH_BENCH_SOAK_SECONDS) || 600
const SLICE_SECONDS = Math.min(30, SOAK_SECONDS)
const CONNECTIONS = 32
/** The emulator's access tokens live this long: serve refreshes a few times during the soak. */
const ACCESS_TTL_SECONDS = 120

/** The request kinds, taken in turn by each wrk connection. */
const REQUESTS: Array<{ path: string; body: unknown }> = [
  { path: '/v1/chat/completions', body: { model: 'coder-model', messages: [{ role: 'user', content: 'Say hello.' }] } },
  { path: '/v1/chat/completions', body: { model: 'coder-model', messages: [{ role: 'user', content: 'Say hello.' }], stream: true, stream_options: { include_usage: true } } },
  { path: '/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] } },
  { path: '/v1/messages', body: { model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'Say hello.' }] } },
  // Kept (store defaults to true): the kept responses are bounded, and the soak shows it.
  { path: '/v1/responses', body: { model: 'coder-model', input: 'Say hello.' } },
]

function wrkScript(dir: string): string {
  const path = join(dir, 'soak.lua')
  const lines = [
    'local requests = {}',
    // Formatted in init, once wrk has set the Host header (serve refuses a request without one).
    'init = function(args)',
    ...REQUESTS.map((r, i) => `  requests[${i + 1}] = wrk.format("POST", ${JSON.stringify(r.path)}, { ["content-type"] = "application/json" }, ${JSON.stringify(JSON.stringify(r.body))})`),
    'end',
    'local n = 0',
    'request = function()',
    `  n = n % ${REQUESTS.length} + 1`,
    '  return requests[n]',
    'end',
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("WRK {\\"requests\\":%d,\\"us\\":%d,\\"p50\\":%d,\\"p99\\":%d,\\"errors\\":%d,\\"non2xx\\":%d}\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))',
    'end',
  ]
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

interface Slice {
  /** Seconds since the soak began, at the end of this slice. */
  at: number
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  rss: number
}

export interface SoakResult {
  note?: string
  idleBefore: number
  slices: Slice[]
  idleAfter: number
}

export async function benchSoak(log: (line: string) => void = () => {}): Promise<SoakResult> {
  ensureBinary(log)
  if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
    return { note: 'wrk is not installed: no soak (Debian: apt-get install wrk).', idleBefore: Number.NaN, slices: [], idleAfter: Number.NaN }
  }
  const cleanups: Cleanup[] = []
  const dir = mkdtempSync(join(tmpdir(), 'qwenauth-bench-soak-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  try {
    const target = await startTarget(['--access-ttl', String(ACCESS_TTL_SECONDS)], cleanups)
    const script = wrkScript(dir)
    const origin = target.serveUrl.replace(/\/v1$/, '')
    await new Promise((r) => setTimeout(r, 500))
    const idleBefore = rssMb(target.servePid)
    const slices: Slice[] = []
    const began = performance.now()
    for (let slice = 1; slice * SLICE_SECONDS <= SOAK_SECONDS; slice++) {
      const run = spawnSync('wrk', ['-t', '2', '-c', String(CONNECTIONS), '-d', `${SLICE_SECONDS}s`, '-s', script, origin], { encoding: 'utf8', timeout: (SLICE_SECONDS + 30) * 1000 })
      const line = /^WRK (\{.*\})$/m.exec(run.stdout)?.[1]
      if (!line) throw new Error(`wrk printed no figures: ${run.stdout} ${run.stderr}`)
      const r = JSON.parse(line) as { requests: number; us: number; p50: number; p99: number; errors: number; non2xx: number }
      const figures: Slice = { at: (performance.now() - began) / 1000, rps: (r.requests / r.us) * 1e6, p50: r.p50 / 1000, p99: r.p99 / 1000, errors: r.errors, non2xx: r.non2xx, rss: rssMb(target.servePid) }
      slices.push(figures)
      log(`soak: ${figures.at.toFixed(0)} s, ${figures.rps.toFixed(0)} requests/s, RSS ${figures.rss.toFixed(0)} MB`)
    }
    // Idle a while: whatever is only waiting for the collector goes.
    await new Promise((r) => setTimeout(r, 10_000))
    return { idleBefore, slices, idleAfter: rssMb(target.servePid) }
  } finally {
    await runCleanups(cleanups)
  }
}

export function formatSoak(r: SoakResult): string {
  const lines = ['### serve under a soak', '']
  if (r.note) return `${[...lines, `> ${r.note}`].join('\n')}\n`
  const minutes = (r.slices.at(-1)?.at ?? 0) / 60
  lines.push(
    `${new Date().toISOString().slice(0, 10)}, ${process.platform}-${process.arch}, ${availableParallelism()} cores; the compiled binary in front of the Qwen emulator on loopback; wrk, ${CONNECTIONS} connections, ${minutes.toFixed(1)} minutes in slices of ${SLICE_SECONDS} s; the requests in turn: chat JSON, chat stream, Anthropic Messages JSON and stream, Responses (kept); the access token expires every ${ACCESS_TTL_SECONDS} s.`,
    '',
    '| after | requests/s | p50 | p99 | errors | not 2xx | RSS |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| start, idle | | | | | | ${r.idleBefore.toFixed(0)} MB |`,
  )
  for (const s of r.slices) lines.push(`| ${s.at.toFixed(0)} s | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} ms | ${s.p99.toFixed(2)} ms | ${s.errors} | ${s.non2xx} | ${s.rss.toFixed(0)} MB |`)
  lines.push(`| then 10 s idle | | | | | | ${r.idleAfter.toFixed(0)} MB |`)
  const half = r.slices.slice(Math.floor(r.slices.length / 2))
  if (half.length >= 2) {
    const growth = half.at(-1)!.rss - half[0]!.rss
    lines.push('', `RSS over the second half of the soak: ${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MB (${half[0]!.rss.toFixed(0)} → ${half.at(-1)!.rss.toFixed(0)} MB).`)
  }
  return `${lines.join('\n')}\n`
}

export async function soakSection(options: { log?: (line: string) => void } = {}): Promise<string> {
  return formatSoak(await benchSoak(options.log))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(await soakSection({ log: (line) => console.error(line) }))
}
