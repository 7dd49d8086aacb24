/**
 * Bench section: `qwenauth serve` (the compiled binary) beside a plain nginx reverse proxy, both
 * in front of the same Qwen emulator on loopback, loaded by `wrk`:
 *
 * - requests/s at 32 connections, direct / nginx / a bare Bun relay / serve, JSON and streaming,
 *   and the CPU time each proxy process spends per request (Linux: /proc);
 * - latency p50/p99 at one connection, and what each proxy adds over direct;
 * - time to first byte of a stream at one connection (the in-process client: wrk cannot see it);
 * - RSS of serve idle, after the load, and with 1,000 slow streams open at once;
 * - `serve --workers` scaling against one serve and one nginx worker.
 *
 * Runs of the sides are taken in turn, three rounds, and the median of each side kept: the
 * machine is shared, so only ratios within one run mean much. nginx (Debian's nginx-light, one
 * worker, upstream keep-alive, no buffering) runs from a temp dir removed afterwards; without
 * nginx or wrk the parts that need them are skipped with a note.
 *
 *   bun scripts/bench/proxy.ts     this section alone
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { load } from './load.ts'
import { bun, chatInit, ensureBinary, runCleanups, startProcess, startServe, startTarget, stopProcess, type Cleanup, type Target } from './serve.ts'

const NGINX = '/usr/sbin/nginx'
const ROUNDS = 3
const RUN_SECONDS = 3
const SLOW_STREAMS = 1000

interface WrkFigures {
  rps: number
  /** CPU time (user + system) of the proxy process per request, µs; NaN where it cannot be read. */
  cpuUs: number
  /** Latency percentiles, ms. */
  p50: number
  p99: number
  errors: number
}

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' })
  return found.status === 0 ? found.stdout.trim() : undefined
}

/** A wrk script for one side: the chat request, and a JSON line with the figures at the end. */
function wrkScript(dir: string, name: string, stream: boolean, headers: Record<string, string>): string {
  const path = join(dir, `${name}.lua`)
  const body = JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'Say hello.' }], stream, ...(stream ? { stream_options: { include_usage: true } } : {}) })
  const lines = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(body)}`,
    'wrk.headers["content-type"] = "application/json"',
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("WRK {\\"requests\\":%d,\\"us\\":%d,\\"p50\\":%d,\\"p99\\":%d,\\"errors\\":%d}\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))',
    'end',
  ]
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

/** User plus system CPU time of a process and its threads so far, in clock ticks (Linux). */
function cpuTicks(pid: number | undefined): number {
  if (!pid) return Number.NaN
  try {
    // After the command name, which is in parentheses and may itself hold ') '.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return Number.NaN
  }
}

/** Linux's USER_HZ: /proc counts CPU time in hundredths of a second. */
const TICK_US = 10_000

/**
 * A wrk run against `url`; with `pid`, also the CPU that process spent on each request. Awaited,
 * not run synchronously: an interrupted bench then stops at once (scripts/bench.ts).
 */
async function wrk(url: string, script: string, connections: number, pid?: number): Promise<WrkFigures> {
  const threads = Math.min(connections, 2)
  const before = cpuTicks(pid)
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${RUN_SECONDS}s`, '-s', script, url]
  const run = await new Promise<{ stdout: string; stderr: string }>((done) => {
    execFile('wrk', args, { encoding: 'utf8', timeout: (RUN_SECONDS + 20) * 1000 }, (_error, stdout, stderr) => done({ stdout, stderr }))
  })
  const line = /^WRK (\{.*\})$/m.exec(run.stdout)?.[1]
  if (!line) throw new Error(`wrk printed no figures: ${run.stdout} ${run.stderr}`)
  const r = JSON.parse(line) as { requests: number; us: number; p50: number; p99: number; errors: number }
  const cpuUs = ((cpuTicks(pid) - before) * TICK_US) / Math.max(1, r.requests)
  return { rps: (r.requests / r.us) * 1e6, cpuUs, p50: r.p50 / 1000, p99: r.p99 / 1000, errors: r.errors }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

/** Each side's runs taken in turn, ROUNDS times; per side the median of each figure. */
async function rounds(sides: Record<string, () => Promise<WrkFigures>>, log: (line: string) => void, what: string): Promise<Record<string, WrkFigures>> {
  const runs: Record<string, WrkFigures[]> = {}
  for (let round = 1; round <= ROUNDS; round++) {
    log(`proxy: ${what}, round ${round}/${ROUNDS}`)
    for (const [side, run] of Object.entries(sides)) (runs[side] ??= []).push(await run())
  }
  const out: Record<string, WrkFigures> = {}
  for (const [side, list] of Object.entries(runs)) {
    out[side] = { rps: median(list.map((f) => f.rps)), cpuUs: median(list.map((f) => f.cpuUs)), p50: median(list.map((f) => f.p50)), p99: median(list.map((f) => f.p99)), errors: list.reduce((a, f) => a + f.errors, 0) }
  }
  return out
}

/** nginx as a plain reverse proxy to the emulator: one worker, upstream keep-alive, no buffering. */
async function startNginx(upstreamPort: number, cleanups: Cleanup[]): Promise<{ origin: string; workerPid: number | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'qwenauth-bench-nginx-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const port = await freePort()
  const conf = `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream emulator { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://emulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`
  writeFileSync(join(dir, 'nginx.conf'), conf)
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' })
  // Stopped before its directory goes (cleanups run in reverse).
  cleanups.push(() => stopProcess(child, 'SIGQUIT'))
  for (let i = 0; i < 100; i++) {
    // The master listens before it forks its worker: on Linux, where its CPU is read, both are awaited.
    const workerPid = onlyChild(child.pid)
    if ((workerPid || process.platform !== 'linux') && (await canConnect(port))) return { origin: `http://127.0.0.1:${port}`, workerPid }
    if (child.exitCode !== null) break
    await sleep(50)
  }
  throw new Error(`nginx did not start: ${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`)
}

/** The one worker of nginx's master process, which does all the proxying (Linux). */
function onlyChild(pid: number | undefined): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) || undefined
  } catch {
    return undefined
  }
}

/** The bare Bun relay (bare-relay.ts) in front of the emulator: the floor for serve on this runtime. */
async function startBareRelay(upstreamOrigin: string, cleanups: Cleanup[]): Promise<{ origin: string; pid: number | undefined }> {
  const relay = await startProcess(bun, [join(import.meta.dirname, 'bare-relay.ts')], { ...process.env, UPSTREAM: upstreamOrigin }, /^(http:\/\/\S+)$/m)
  cleanups.push(() => stopProcess(relay.child))
  return { origin: relay.match, pid: relay.child.pid }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port
      probe.close(() => resolvePort(port))
    })
  })
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolveConnect(true)
    })
    socket.once('error', () => resolveConnect(false))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Resident set size of a process, MB (Linux). */
export function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb ? Number(kb) / 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/**
 * `count` streams opened at once through serve, each on its own connection; once every one has
 * its first byte (or 20 s passed), the serve process's RSS. Returns how many got going.
 */
async function slowStreams(url: string, pid: number, count: number): Promise<{ started: number; rss: number; seconds: number }> {
  const { port, pathname } = new URL(`${url}/chat/completions`)
  const body = JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'Say hello.' }], stream: true })
  const request = `POST ${pathname} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  const sockets: Socket[] = []
  let started = 0
  const begun = performance.now()
  for (let i = 0; i < count; i++) {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request))
    let first = true
    socket.on('data', () => {
      if (first) started++
      first = false
    })
    socket.on('error', () => {})
    sockets.push(socket)
  }
  while (started < count && performance.now() - begun < 20_000) await sleep(50)
  const seconds = (performance.now() - begun) / 1000
  const rss = Math.max(rssMb(pid), (await sleep(200), rssMb(pid)))
  for (const socket of sockets) socket.destroy()
  return { started, rss, seconds }
}

export interface ProxyBenchResult {
  notes: string[]
  json?: Record<string, WrkFigures>
  stream?: Record<string, WrkFigures>
  oneConnection?: Record<string, WrkFigures>
  ttfb: Record<string, number>
  workers?: Record<string, WrkFigures>
  rss: { idle: number; afterLoad: number; slow: Array<{ limit: string; started: number; rss: number; seconds: number }> }
}

export async function benchProxy(log: (line: string) => void = () => {}): Promise<ProxyBenchResult> {
  ensureBinary(log)
  const notes: string[] = []
  const cleanups: Cleanup[] = []
  const dir = mkdtempSync(join(tmpdir(), 'qwenauth-bench-proxy-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  try {
    const target: Target = await startTarget([], cleanups)
    await sleep(500)
    const idle = rssMb(target.servePid)
    const emulatorOrigin = target.emulatorUrl.replace(/\/v1$/, '')
    const serveOrigin = target.serveUrl.replace(/\/v1$/, '')
    const hasWrk = Boolean(which('wrk'))
    const hasNginx = existsSync(NGINX)
    if (!hasWrk) notes.push('wrk is not installed: the throughput, latency and --workers tables are skipped (Debian: apt-get install wrk).')
    if (!hasNginx) notes.push(`nginx is not installed (${NGINX}): the nginx column is skipped (Debian: apt-get install nginx-light).`)
    const nginx = hasNginx ? await startNginx(Number(new URL(emulatorOrigin).port), cleanups) : undefined
    const nginxOrigin = nginx?.origin
    const relay = await startBareRelay(emulatorOrigin, cleanups)
    const ua = `QwenCode/0.24.4 (${process.platform}; ${process.arch})`
    const auth = { authorization: `Bearer ${target.token}`, 'user-agent': ua, 'x-dashscope-useragent': ua, 'x-dashscope-cachecontrol': 'enable', 'x-dashscope-authtype': 'qwen-oauth' }
    const result: ProxyBenchResult = { notes, ttfb: {}, rss: { idle, afterLoad: Number.NaN, slow: [] } }
    const path = '/v1/chat/completions'

    if (hasWrk) {
      const workers = Math.max(2, availableParallelism())
      const served = await startServe(['--port', '0', '--workers', String(workers)], target.env, cleanups)
      const workersOrigin = served.url.replace(/\/v1$/, '')
      for (const stream of [false, true]) {
        const kind = stream ? 'stream' : 'json'
        const direct = wrkScript(dir, `direct-${kind}`, stream, auth)
        // nginx passes the credential on like the direct request: it adds nothing of its own.
        const proxied = wrkScript(dir, `serve-${kind}`, stream, {})
        const sides: Record<string, (c: number) => Promise<WrkFigures>> = {
          direct: (c) => wrk(`${emulatorOrigin}${path}`, direct, c),
          ...(nginxOrigin ? { nginx: (c: number) => wrk(`${nginxOrigin}${path}`, direct, c, nginx?.workerPid) } : {}),
          // The bare relay passes the client's headers on, as nginx does.
          relay: (c) => wrk(`${relay.origin}${path}`, direct, c, relay.pid),
          serve: (c) => wrk(`${serveOrigin}${path}`, proxied, c, target.servePid),
        }
        // Warm-up: connections, JIT, the account snapshot.
        for (const run of Object.values(sides)) await run(8)
        const at = (c: number) => Object.fromEntries(Object.entries(sides).map(([side, run]) => [side, () => run(c)]))
        result[stream ? 'stream' : 'json'] = await rounds(at(32), log, `${kind}, 32 connections`)
        if (!stream) result.oneConnection = await rounds(at(1), log, 'json, 1 connection')
        if (!stream) {
          await wrk(`${workersOrigin}${path}`, proxied, 8)
          result.workers = await rounds(
            {
              'serve, 1 process': () => wrk(`${serveOrigin}${path}`, proxied, 32),
              [`serve --workers ${workers}`]: () => wrk(`${workersOrigin}${path}`, proxied, 32),
              ...(nginxOrigin ? { 'nginx, 1 worker': () => wrk(`${nginxOrigin}${path}`, direct, 32) } : {}),
            },
            log,
            `--workers ${workers}, 32 connections`,
          )
        }
      }
    }
    result.rss.afterLoad = rssMb(target.servePid)

    // Time to first byte of a stream, one at a time: wrk cannot see it.
    log('proxy: time to first byte, 1 connection')
    const ttfbSides: Record<string, () => Promise<number>> = {
      direct: async () => (await load(`${target.emulatorUrl}/chat/completions`, chatInit(true, target.token), 300, 1, 3000)).ttfbP50,
      ...(nginxOrigin ? { nginx: async () => (await load(`${nginxOrigin}${path}`, chatInit(true, target.token), 300, 1, 3000)).ttfbP50 } : {}),
      relay: async () => (await load(`${relay.origin}${path}`, chatInit(true, target.token), 300, 1, 3000)).ttfbP50,
      serve: async () => (await load(`${target.serveUrl}/chat/completions`, chatInit(true), 300, 1, 3000)).ttfbP50,
    }
    const ttfbRuns: Record<string, number[]> = {}
    for (let round = 0; round <= ROUNDS; round++) for (const [side, run] of Object.entries(ttfbSides)) {
      const value = await run()
      if (round > 0) (ttfbRuns[side] ??= []).push(value) // round 0 warms up
    }
    for (const [side, values] of Object.entries(ttfbRuns)) result.ttfb[side] = median(values)

    // 1,000 streams held open (the emulator waits 1 s between events), with Bun's default limit
    // of 256 requests in flight and with it raised.
    for (const limit of ['default', '4096']) {
      log(`proxy: ${SLOW_STREAMS} slow streams, BUN_CONFIG_MAX_HTTP_REQUESTS ${limit}`)
      const own: Cleanup[] = []
      try {
        const slow = await startTarget(['--stream-delay-ms', '1000'], own, limit === 'default' ? {} : { BUN_CONFIG_MAX_HTTP_REQUESTS: limit })
        const figures = await slowStreams(slow.serveUrl, slow.servePid, SLOW_STREAMS)
        result.rss.slow.push({ limit, ...figures })
      } finally {
        await runCleanups(own)
      }
    }
    return result
  } finally {
    await runCleanups(cleanups)
  }
}

const ms = (n: number) => `${n.toFixed(2)} ms`
const x = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(2)}×` : '-')
const us = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? `${n.toFixed(0)} µs` : '-')
const plus = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(2)} ms` : '-')

export function formatProxy(r: ProxyBenchResult): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  const lines = [
    '### qwenauth serve vs nginx vs direct (wrk)',
    '',
    `${new Date().toISOString().slice(0, 10)}, ${process.platform}-${process.arch}, ${availableParallelism()} cores (${cpu}); loopback, the Qwen emulator upstream, compiled binary; nginx-light with one worker and upstream keep-alive; wrk ${RUN_SECONDS} s per run, medians of ${ROUNDS} rounds taken in turn.`,
    '',
  ]
  for (const note of r.notes) lines.push(`> ${note}`, '')
  if (r.json && r.stream && r.oneConnection) {
    lines.push(
      'The Bun relay is `scripts/bench/bare-relay.ts`: Bun.serve → fetch, each answer read in JavaScript (as serve must, to count tokens), nothing else; the floor for serve on this runtime. CPU is the proxy process\'s own (user + system, all its threads) per request.',
      '',
      '| scenario | metric | direct | nginx | Bun relay | serve | serve ÷ nginx | serve ÷ Bun relay | serve ÷ direct |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const [name, f] of [['chat, JSON', r.json], ['chat, stream', r.stream]] as const) {
      lines.push(`| ${name}, 32 connections | requests/s | ${f.direct?.rps.toFixed(0)} | ${f.nginx?.rps.toFixed(0) ?? '-'} | ${f.relay?.rps.toFixed(0)} | ${f.serve?.rps.toFixed(0)} | ${x(f.serve?.rps, f.nginx?.rps)} | ${x(f.serve?.rps, f.relay?.rps)} | ${x(f.serve?.rps, f.direct?.rps)} |`)
      lines.push(`| ${name}, 32 connections | CPU per request | - | ${us(f.nginx?.cpuUs)} | ${us(f.relay?.cpuUs)} | ${us(f.serve?.cpuUs)} | ${x(f.serve?.cpuUs, f.nginx?.cpuUs)} | ${x(f.serve?.cpuUs, f.relay?.cpuUs)} | - |`)
    }
    const one = r.oneConnection
    lines.push('', '| chat, JSON, 1 connection | direct | nginx | Bun relay | serve | nginx adds | Bun relay adds | serve adds |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const key of ['p50', 'p99'] as const) {
      lines.push(`| latency ${key} | ${ms(one.direct?.[key] ?? 0)} | ${one.nginx ? ms(one.nginx[key]) : '-'} | ${ms(one.relay?.[key] ?? 0)} | ${ms(one.serve?.[key] ?? 0)} | ${plus(one.nginx?.[key], one.direct?.[key])} | ${plus(one.relay?.[key], one.direct?.[key])} | ${plus(one.serve?.[key], one.direct?.[key])} |`)
    }
    lines.push(`| stream, time to first byte p50 | ${ms(r.ttfb.direct ?? 0)} | ${r.ttfb.nginx !== undefined ? ms(r.ttfb.nginx) : '-'} | ${ms(r.ttfb.relay ?? 0)} | ${ms(r.ttfb.serve ?? 0)} | ${plus(r.ttfb.nginx, r.ttfb.direct)} | ${plus(r.ttfb.relay, r.ttfb.direct)} | ${plus(r.ttfb.serve, r.ttfb.direct)} |`)
    const errors = [r.json, r.stream, r.oneConnection].flatMap((f) => Object.entries(f)).filter(([, v]) => v.errors > 0)
    if (errors.length > 0) lines.push('', `wrk counted errors: ${errors.map(([side, v]) => `${side} ${v.errors}`).join(', ')}`)
  }
  if (r.workers) {
    const base = r.workers['serve, 1 process']?.rps
    const nginx = r.workers['nginx, 1 worker']?.rps
    lines.push('', '| chat, JSON, 32 connections | requests/s | ÷ serve, 1 process | ÷ nginx, 1 worker |', '| --- | ---: | ---: | ---: |')
    for (const [side, f] of Object.entries(r.workers)) lines.push(`| ${side} | ${f.rps.toFixed(0)} | ${x(f.rps, base)} | ${x(f.rps, nginx)} |`)
  }
  lines.push('', '| serve memory | RSS |', '| --- | ---: |')
  lines.push(`| idle, after start | ${r.rss.idle.toFixed(0)} MB |`, `| idle, after the load above | ${r.rss.afterLoad.toFixed(0)} MB |`)
  for (const s of r.rss.slow) {
    lines.push(`| ${SLOW_STREAMS} slow streams open, BUN_CONFIG_MAX_HTTP_REQUESTS ${s.limit} (${s.started} of ${SLOW_STREAMS} had their first byte after ${s.seconds.toFixed(1)} s) | ${s.rss.toFixed(0)} MB |`)
  }
  return `${lines.join('\n')}\n`
}

export async function proxySection(options: { log?: (line: string) => void } = {}): Promise<string> {
  return formatProxy(await benchProxy(options.log))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(await proxySection({ log: (line) => console.error(line) }))
}
