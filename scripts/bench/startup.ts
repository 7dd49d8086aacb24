/**
 * Bench section: how long `qwenauth --version` and `qwenauth token` (a cached, still valid token:
 * no network) take from process start to exit, for the compiled binary, the npm bundle on Node
 * and the sources on Deno; and how big the binary is. Each figure is the median of `runs`
 * spawns after warm-up runs (page cache and Deno's transpile cache filled), so "cold" means a
 * new process, not a cold disk.
 *
 *   bun scripts/bench/startup.ts [runs]     this section alone
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEmulator } from '../../test/fixtures/qwen-emulator.ts'

const root = resolve(import.meta.dirname, '../..')
const bin = (name: string) => join(root, 'node_modules/.bin', name)

export interface StartupBenchOptions {
  /** Timed spawns per figure (default 15). */
  runs?: number
  /** Progress lines (default: none). */
  log?: (line: string) => void
}

export interface StartupTiming {
  runtime: string
  command: string
  medianMs: number
  minMs: number
  runs: number
}

export interface StartupBenchResult {
  binaryBytes: number
  nodeBundleBytes: number
  timings: StartupTiming[]
}

interface Runtime {
  name: string
  argv: string[]
}

function runtimes(): Runtime[] {
  const all: Runtime[] = [
    { name: 'binary', argv: [join(root, 'dist/qwenauth')] },
    { name: 'node (npm bundle)', argv: [process.env.NODE_BIN ?? 'node', join(root, 'dist/node/cli.mjs')] },
    { name: 'deno (sources)', argv: [bin('deno'), 'run', '-A', join(root, 'src/cli.ts')] },
  ]
  // A bare name is looked up on PATH; a path must exist (Deno is skipped when not installed).
  return all.filter(({ argv: [command = ''] }) => !command.includes('/') || existsSync(command))
}

function spawnOnce(argv: string[], args: string[], env: NodeJS.ProcessEnv): number {
  const [command = '', ...prefix] = argv
  const started = performance.now()
  const result = spawnSync(command, [...prefix, ...args], { env, cwd: tmpdir(), encoding: 'utf8', timeout: 30_000 })
  const elapsed = performance.now() - started
  if (result.status !== 0) throw new Error(`${argv.join(' ')} ${args.join(' ')} exited ${result.status ?? result.signal}: ${result.stderr}`)
  return elapsed
}

function time(runtime: Runtime, args: string[], env: NodeJS.ProcessEnv, runs: number): StartupTiming {
  for (let i = 0; i < 2; i++) spawnOnce(runtime.argv, args, env)
  const samples = Array.from({ length: runs }, () => spawnOnce(runtime.argv, args, env)).sort((a, b) => a - b)
  const round = (ms: number) => Math.round(ms * 10) / 10
  return { runtime: runtime.name, command: `qwenauth ${args.join(' ')}`, medianMs: round(samples[Math.floor(runs / 2)] ?? 0), minMs: round(samples[0] ?? 0), runs }
}

/** A QWEN_HOME holding one logged-in account whose token is valid for hours. */
async function loggedInHome(env: NodeJS.ProcessEnv): Promise<void> {
  const emulator = await startEmulator({ autoApprove: true, interval: 0.1 })
  try {
    // Asynchronous: the emulator answers from this process's event loop.
    const child = spawn('node', [join(root, 'dist/node/cli.mjs'), 'login'], { env: { ...env, QWENAUTH_OAUTH_URL: emulator.url }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const code = await new Promise<number | null>((done) => child.on('close', done)).finally(() => clearTimeout(timer))
    if (code !== 0) throw new Error(`login for the token bench failed (${code}): ${stderr}`)
  } finally {
    // Closed before timing: a `token` that tried to reach the server would fail the bench.
    await emulator.close()
  }
}

/** Builds dist/ for this machine (so the figures are for the current code), then times it. */
export async function benchStartup(options: StartupBenchOptions = {}): Promise<StartupBenchResult> {
  const runs = options.runs ?? 15
  const log = options.log ?? (() => {})
  log('startup: building dist/ (npm run build)')
  const build = spawnSync(bin('bun'), [join(root, 'scripts/build.ts')], { cwd: root, encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`)

  const home = mkdtempSync(join(tmpdir(), 'qwenauth-bench-home-'))
  // No inherited OPENAI_*/QWEN* settings; the emulator URL points nowhere once it is closed.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, QWEN_HOME: home, NO_COLOR: '1', QWENAUTH_NO_BROWSER: '1', QWENAUTH_OAUTH_URL: 'http://127.0.0.1:9' }
  try {
    await loggedInHome(env)
    const timings: StartupTiming[] = []
    for (const runtime of runtimes()) {
      for (const args of [['--version'], ['token']]) {
        log(`startup: ${runtime.name} qwenauth ${args.join(' ')}`)
        timings.push(time(runtime, args, env, runs))
      }
    }
    return { binaryBytes: statSync(join(root, 'dist/qwenauth')).size, nodeBundleBytes: treeBytes(join(root, 'dist/node')), timings }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/** The npm bundle is an entry and its chunks: their total size. */
function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => sum + (entry.isDirectory() ? treeBytes(join(dir, entry.name)) : statSync(join(dir, entry.name)).size), 0)
}

/** The section as Markdown, ready for the README. */
export function formatStartup(result: StartupBenchResult): string {
  const lines = [
    '### Cold start',
    '',
    `Binary: ${mib(result.binaryBytes)} (${process.platform}-${process.arch}); npm bundle: ${(result.nodeBundleBytes / 1024).toFixed(0)} KiB.`,
    '',
    '| runtime | command | median | fastest | runs |',
    '| --- | --- | ---: | ---: | ---: |',
    ...result.timings.map((t) => `| ${t.runtime} | \`${t.command}\` | ${t.medianMs} ms | ${t.minMs} ms | ${t.runs} |`),
  ]
  return `${lines.join('\n')}\n`
}

/** One call for a bench runner: runs the section and returns its Markdown. */
export async function startupSection(options: StartupBenchOptions = {}): Promise<string> {
  return formatStartup(await benchStartup(options))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? '') || undefined
  process.stdout.write(await startupSection({ ...(runs ? { runs } : {}), log: (line) => console.error(line) }))
}
