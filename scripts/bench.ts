/**
 * `npm run bench`: every bench section in one run, each printed as a Markdown block (tables with
 * ratios) ready for the README. Sections are modules in scripts/bench/; add one to SECTIONS.
 *
 *   bun scripts/bench.ts              all sections
 *   bun scripts/bench.ts proxy serve  only the named sections
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signalExitCode, stopSignals } from '../src/lib/stop-signals.ts'

export interface BenchSection {
  name: string
  /** Runs the measurements and returns the section's Markdown; progress goes to `log`. */
  run(log: (line: string) => void): Promise<string>
}

const SECTIONS: BenchSection[] = [
  { name: 'proxy', run: async (log) => (await import('./bench/proxy.ts')).proxySection({ log }) },
  { name: 'serve', run: async (log) => (await import('./bench/serve.ts')).serveSection({ log }) },
  { name: 'streams', run: async (log) => (await import('./bench/streams.ts')).streamsSection({ log }) },
  { name: 'startup', run: async (log) => (await import('./bench/startup.ts')).startupSection({ log }) },
  { name: 'soak', run: async (log) => (await import('./bench/soak.ts')).soakSection({ log }) },
  { name: 'exec', run: async (log) => (await import('./bench/exec.ts')).execSection({ log }) },
]

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !SECTIONS.some((s) => s.name === name))
if (unknown.length > 0) {
  console.error(`unknown bench section ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.name).join(', ')}`)
  process.exit(2)
}

// Every section's temporary files (homes, nginx's directory, wrk scripts) go under one directory
// of the run's own, which goes when the run ends, interrupted or not.
const scratch = mkdtempSync(join(tmpdir(), 'qwenauth-bench-'))
process.env.TMPDIR = scratch
const removeScratch = () => rmSync(scratch, { recursive: true, force: true })

/**
 * This process's children (Linux: /proc), or none where that cannot be read. Ctrl-C reaches them
 * with the terminal's process group; a SIGTERM to the bench alone does not.
 */
function children(): number[] {
  try {
    const tasks = readdirSync(`/proc/${process.pid}/task`)
    return tasks.flatMap((task) => readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number))
  } catch {
    return []
  }
}

/** Stops the emulators, servers and nginx a section started, waits for them (5 s at most), then removes the scratch directory. */
async function interrupted(signal: NodeJS.Signals): Promise<never> {
  const running = children()
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
  }
  const deadline = Date.now() + 5000
  while (running.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  removeScratch()
  process.exit(signalExitCode(signal))
}
for (const signal of stopSignals()) process.once(signal, () => void interrupted(signal))

const log = (line: string) => console.error(`[bench] ${line}`)
const started = performance.now()
try {
  for (const section of SECTIONS) {
    if (wanted.length > 0 && !wanted.includes(section.name)) continue
    const sectionStarted = performance.now()
    const markdown = await section.run(log)
    process.stdout.write(`${markdown}\n`)
    log(`${section.name}: ${((performance.now() - sectionStarted) / 1000).toFixed(1)} s`)
  }
} finally {
  removeScratch()
}
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
