import { decimal } from '../lib/decimal.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { availableParallelism } from 'node:os'
import { usageError } from '../lib/errors.ts'
import { releaseInterruptHandlers } from '../lib/interrupt.ts'
import { logger } from '../lib/logger.ts'
import { signalExitCode, stopSignals } from '../lib/stop-signals.ts'
import { WORKER_ENV } from '../proxy/worker.ts'
import { printOut } from './_shared.ts'

/**
 * `serve --workers N`: N processes answer on one port, each a whole `serve` with its own event
 * loop, all on the one account store (whose locks already make a token refresh happen once for
 * every process). This process, the primary, serves nothing itself:
 *
 * - it first binds the port exclusively, as a plain `serve` would, so a port that anyone else
 *   holds (another serve, any program) is refused as before, and port 0 becomes a real port;
 * - it lets go and starts the workers, which listen on that port with SO_REUSEPORT, the kernel
 *   spreading connections between them (Linux balances such sockets; elsewhere it does not,
 *   so more than one worker is refused there). A program that binds the port later without
 *   SO_REUSEPORT is refused by the kernel; one of the same user that sets it could still join,
 *   which a single serve (no SO_REUSEPORT) never allows;
 * - it prints the base URL once all workers listen, passes SIGINT/SIGTERM/SIGHUP on to them and waits
 *   for their drain; a worker that dies stops the rest (a supervisor restarts the whole serve).
 *   Workers run in their own process group, so a terminal's Ctrl-C reaches them once, through
 *   the primary; and they stop when the primary's pipe to them closes, so none is left behind
 *   if the primary is killed outright.
 */

/** The most workers `--workers` takes: a bound against typos such as 1000. */
export const MAX_WORKERS = 64

/** `--workers`: a count, or `auto` for one per core. Default 1 (see the README's performance section). */
export function parseWorkers(value: string | undefined): number {
  if (value === undefined || value === '') return 1
  if (value === 'auto') return Math.min(MAX_WORKERS, availableParallelism())
  const n = decimal(value)
  if (n === undefined || n < 1 || n > MAX_WORKERS) throw usageError(`--workers needs a number from 1 to ${MAX_WORKERS}, or auto (one per core), got ${value}`)
  return n
}

/** Why this runtime cannot run workers, or undefined when it can. */
export function workersUnsupported(): string | undefined {
  if (process.platform !== 'linux') return `serve --workers shares one port through SO_REUSEPORT, which spreads connections between processes on Linux only (this is ${process.platform})`
  if ('Deno' in globalThis) return 'serve --workers needs the qwenauth binary or Node 22.12 or later (Deno cannot start the workers)'
  if (!process.versions.bun) {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
    if (major < 22 || (major === 22 && minor < 12)) return `serve --workers needs the qwenauth binary or Node 22.12 or later, for SO_REUSEPORT (this is Node ${process.versions.node})`
  }
  return undefined
}

/** The port, bound exclusively and let go at once: refused when anyone holds it. Port 0 becomes a free port. */
function claimPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(usageError(`cannot listen on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`)),
    )
    probe.listen({ host, port, exclusive: true }, () => {
      const address = probe.address()
      const bound = typeof address === 'object' && address ? address.port : port
      probe.close(() => resolve(bound))
    })
  })
}

/** This program again, with the same arguments: the binary itself, or the runtime and its script. */
function selfCommand(): { command: string; args: string[] } {
  const script = process.argv[1] ?? ''
  // A Bun-compiled binary names its embedded entry /$bunfs/… (B:/~BUN/… on Windows).
  if (script.startsWith('/$bunfs/') || /^[A-Z]:[\\/]~BUN[\\/]/.test(script)) return { command: process.execPath, args: process.argv.slice(2) }
  return { command: process.execPath, args: [...process.execArgv, script, ...process.argv.slice(2)] }
}

interface Worker {
  child: ChildProcess
  exited: Promise<number>
}

function startWorker(index: number, count: number, port: number): Worker {
  const { command, args } = selfCommand()
  // The last --port wins: every worker listens on the port the primary claimed.
  const child = spawn(command, [...args, '--port', String(port)], {
    // The primary already started over with Bun's fetch limit lifted (runtime-fetch.ts): the
    // workers inherit it.
    env: { ...process.env, [WORKER_ENV]: `${index}/${count}` },
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true,
  })
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signalExitCode(signal ?? 'SIGTERM'))))
  return { child, exited }
}

/** The base URL a worker prints once it listens, or its exit code if it stops first. */
function ready(worker: Worker): Promise<string | number> {
  let out = ''
  return Promise.race([
    new Promise<string>((resolve) =>
      worker.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        const match = /^(http:\/\/\S+)\/v1$/m.exec(out)
        if (match?.[1]) resolve(match[1])
      }),
    ),
    worker.exited,
  ])
}

/** Runs `count` workers on one port until a stop signal (stop-signals.ts); resolves with the exit code. */
export async function runWorkers(host: string, port: number, count: number): Promise<number> {
  const unsupported = workersUnsupported()
  if (unsupported) throw usageError(unsupported)
  const bound = await claimPort(host, port)
  releaseInterruptHandlers()
  const workers: Worker[] = []
  let stopping = false
  const stopAll = (signal: NodeJS.Signals) => {
    for (const { child } of workers) if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
  const onSignal = (signal: NodeJS.Signals) => {
    // A second Ctrl-C is passed on (the workers then exit at once); a second SIGTERM changes nothing.
    if (stopping) return signal === 'SIGINT' ? stopAll('SIGINT') : undefined
    stopping = true
    logger.info(`${signal}: stopping the ${count} workers (each finishes its requests in flight)`)
    stopAll('SIGTERM')
  }
  for (const signal of stopSignals()) process.on(signal, onSignal)
  for (let i = 1; i <= count; i++) workers.push(startWorker(i, count, bound))

  const urls = await Promise.all(workers.map(ready))
  const failed = urls.find((u): u is number => typeof u === 'number')
  if (failed !== undefined || stopping) {
    stopping = true
    stopAll('SIGTERM')
    await Promise.all(workers.map((w) => w.exited))
    return failed ?? 0
  }
  logger.info(`${count} workers answer on ${urls[0]} (pids ${workers.map((w) => w.child.pid).join(', ')}); each keeps its own status page list and metrics`)
  printOut(`${urls[0]}/v1`)

  // The first worker to stop ends the serve: on a signal all are stopping; otherwise one died.
  const first = await Promise.race(workers.map((w, i) => w.exited.then((code) => ({ code, i }))))
  const died = !stopping
  if (died) {
    stopping = true
    logger.error(`worker ${first.i + 1} (pid ${workers[first.i]?.child.pid}) stopped with exit code ${first.code}; stopping the others`)
    stopAll('SIGTERM')
  }
  const codes = await Promise.all(workers.map((w) => w.exited))
  if (died) return first.code || 1
  // Drained on a signal: 0, unless a worker could not finish cleanly.
  return codes.find((c) => c !== 0) ?? 0
}
