/**
 * Bench section: what `qwenauth exec` adds to the start of a program. Times `true` alone, then
 * `qwenauth exec -- true` (private proxy started and stopped) and `qwenauth exec --direct -- true`
 * with the compiled binary, and `qwenauth token` on a cached token for comparison. Medians of
 * `runs` spawns after warm-up, commands interleaved so a busy moment hits all of them alike. The
 * account's token is valid for hours and the emulator is closed before timing: nothing here may
 * touch the network. Target: exec adds under 30 ms.
 *
 *   bun scripts/bench/exec.ts [runs]     this section alone
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEmulator } from '../../test/fixtures/qwen-emulator.ts'
import { COMPILE_FLAGS } from '../release-targets.ts'

const root = resolve(import.meta.dirname, '../..')
export const EXEC_TARGET_MS = 30

export interface ExecBenchOptions {
  /** Timed spawns per command (default 31). */
  runs?: number
  log?: (line: string) => void
}

export interface ExecTiming {
  command: string
  medianMs: number
  minMs: number
}

export interface ExecBenchResult {
  runs: number
  timings: ExecTiming[]
  /** Median of `exec -- true` minus median of `true`. */
  addedMs: number
  addedDirectMs: number
}

function spawnOnce(argv: string[], env: NodeJS.ProcessEnv): number {
  const [command = '', ...args] = argv
  const started = performance.now()
  const result = spawnSync(command, args, { env, cwd: tmpdir(), stdio: 'ignore', timeout: 30_000 })
  const elapsed = performance.now() - started
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status ?? result.signal}`)
  return elapsed
}

function login(binary: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(binary, ['login'], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`login for the exec bench failed (${code}): ${stderr}`))))
  })
}

const round = (ms: number) => Math.round(ms * 10) / 10

function timeInterleaved(commands: Record<string, string[]>, env: NodeJS.ProcessEnv, runs: number): ExecTiming[] {
  const entries = Object.entries(commands)
  for (let i = 0; i < 3; i++) for (const [, argv] of entries) spawnOnce(argv, env)
  const samples = new Map<string, number[]>(entries.map(([name]) => [name, []]))
  for (let i = 0; i < runs; i++) for (const [name, argv] of entries) samples.get(name)?.push(spawnOnce(argv, env))
  return entries.map(([name]) => {
    const sorted = (samples.get(name) ?? []).sort((a, b) => a - b)
    return { command: name, medianMs: round(sorted[Math.floor(sorted.length / 2)] ?? 0), minMs: round(sorted[0] ?? 0) }
  })
}

export async function benchExec(options: ExecBenchOptions = {}): Promise<ExecBenchResult> {
  const runs = options.runs ?? 31
  const log = options.log ?? (() => {})
  const work = mkdtempSync(join(tmpdir(), 'qwenauth-bench-exec-'))
  try {
    log('exec: compiling the binary for this machine')
    const binary = join(work, 'qwenauth')
    const build = spawnSync(join(root, 'node_modules/.bin/bun'), ['build', join(root, 'src/cli.ts'), ...COMPILE_FLAGS, `--outfile=${binary}`], { cwd: root, encoding: 'utf8' })
    if (build.status !== 0) throw new Error(`compile failed: ${build.stderr}`)

    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, QWEN_HOME: join(work, 'home'), NO_COLOR: '1', QWENAUTH_NO_BROWSER: '1', QWENAUTH_OAUTH_URL: 'http://127.0.0.1:9' }
    const emulator = await startEmulator({ autoApprove: true, interval: 0.1 })
    try {
      // Not spawnSync: the emulator answers from this very process.
      await login(binary, { ...env, QWENAUTH_OAUTH_URL: emulator.url })
    } finally {
      await emulator.close()
    }

    log(`exec: timing ${runs} runs of each command`)
    const timings = timeInterleaved(
      {
        true: ['true'],
        'qwenauth exec -- true': [binary, 'exec', '--', 'true'],
        'qwenauth exec --direct -- true': [binary, 'exec', '--direct', '--', 'true'],
        'qwenauth token': [binary, 'token'],
      },
      env,
      runs,
    )
    const median = (command: string) => timings.find((t) => t.command === command)?.medianMs ?? Number.NaN
    return {
      runs,
      timings,
      addedMs: round(median('qwenauth exec -- true') - median('true')),
      addedDirectMs: round(median('qwenauth exec --direct -- true') - median('true')),
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The section as Markdown, ready for the README. */
export function formatExec(result: ExecBenchResult): string {
  const verdict = (ms: number) => (ms < EXEC_TARGET_MS ? `under the ${EXEC_TARGET_MS} ms target` : `OVER the ${EXEC_TARGET_MS} ms target`)
  const lines = [
    '### What exec adds (compiled binary)',
    '',
    '| command | median | fastest |',
    '| --- | ---: | ---: |',
    ...result.timings.map((t) => `| \`${t.command}\` | ${t.medianMs} ms | ${t.minMs} ms |`),
    '',
    `\`qwenauth exec -- true\` adds ${result.addedMs} ms over \`true\` (${verdict(result.addedMs)}); with --direct ${result.addedDirectMs} ms. Medians of ${result.runs} runs, ${process.platform}-${process.arch}.`,
  ]
  return `${lines.join('\n')}\n`
}

/** One call for a bench runner: runs the section and returns its Markdown. */
export async function execSection(options: ExecBenchOptions = {}): Promise<string> {
  return formatExec(await benchExec(options))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? '') || undefined
  process.stdout.write(await execSection({ ...(runs ? { runs } : {}), log: (line) => console.error(line) }))
}
