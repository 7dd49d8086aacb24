import { spawn } from 'node:child_process'
import { DEFAULTS } from '../defaults.ts'
import { releaseInterruptHandlers } from '../lib/interrupt.ts'
import { signalExitCode, stopSignals } from '../lib/stop-signals.ts'

/**
 * The runtime's own fetch limits, lifted so that qwenauth's are the ones that apply. Bun runs at
 * most BUN_CONFIG_MAX_HTTP_REQUESTS fetches at once per process (256 unless set, read once at
 * start-up) and queues the rest; Node's undici cuts an answer whose head or next chunk takes
 * more than 300 s; Bun's fetch has a timer of its own.
 */
export type Runtime = 'bun' | 'node' | 'other'

export function currentRuntime(): Runtime {
  if (typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined') return 'bun'
  return typeof process.versions.node === 'string' && typeof (globalThis as { Deno?: unknown }).Deno === 'undefined' ? 'node' : 'other'
}

export const FETCH_LIMIT_VARIABLE = 'BUN_CONFIG_MAX_HTTP_REQUESTS'

/** Fetches this runtime runs at once per process, as it read them at start-up. */
export function runtimeFetchLimit(env: NodeJS.ProcessEnv = process.env, runtime: Runtime = currentRuntime()): number {
  if (runtime !== 'bun') return Number.POSITIVE_INFINITY
  const value = Number(env[FETCH_LIMIT_VARIABLE])
  return Number.isInteger(value) && value >= 1 && value <= 65_535 ? value : DEFAULTS.bunDefaultFetchLimit
}

/**
 * Upstream requests qwenauth sends at once: the runtime's limit less a reserve, so the OAuth
 * refreshes (and nothing else qwenauth fetches) never queue behind model traffic.
 */
export function upstreamFetchLimit(runtimeLimit: number): number {
  return runtimeLimit - Math.min(DEFAULTS.refreshFetchReserve, Math.floor(runtimeLimit / 2))
}

/**
 * `serve` under Bun: Bun reads BUN_CONFIG_MAX_HTTP_REQUESTS only when it starts, so the process
 * starts over with it set (same pid, arguments and stdio; the variable is left alone when the
 * user set it). Call before anything is opened or printed. Elsewhere a no-op.
 */
export async function restartWithFetchLimit(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (currentRuntime() !== 'bun' || env[FETCH_LIMIT_VARIABLE]) return
  const nextEnv = { ...env, [FETCH_LIMIT_VARIABLE]: String(DEFAULTS.runtimeFetchLimit) }
  // A compiled binary's argv[1] is its bundled entry (/$bunfs/… or B:\~BUN\…); `bun cli.ts`
  // needs the script and Bun's own flags again.
  const script = process.argv[1] ?? ''
  const compiled = /^(\/\$bunfs\/|[A-Z]:\\~BUN\\)/i.test(script)
  const args = [...(compiled ? [] : [...process.execArgv, script]), ...process.argv.slice(2)]
  if (typeof process.execve === 'function') {
    try {
      process.execve(process.execPath, [process.execPath, ...args], nextEnv)
    } catch {}
  }
  // No execve (Windows): the same program as a child that owns the terminal; its exit is ours.
  const child = spawn(process.execPath, args, { env: nextEnv, stdio: 'inherit' })
  // The child drains on a signal and decides when it is done; this parent only follows it, so
  // the handlers that would end it 1.5 s after a signal (or at once on a second) are not ours.
  releaseInterruptHandlers()
  for (const signal of stopSignals()) process.on(signal, () => child.kill(signal))
  await new Promise<never>(() => {
    child.on('exit', (code, signal) => process.exit(code ?? signalExitCode(signal ?? 'SIGTERM')))
    child.on('error', (error) => {
      process.stderr.write(`cannot restart ${process.execPath}: ${error.message}\n`)
      process.exit(1)
    })
  })
}

const UNDICI_DISPATCHER = Symbol.for('undici.globalDispatcher.1')
type DispatcherClass = new (options: { headersTimeout: number; bodyTimeout: number }) => object
let untimedDispatcher: object | null | undefined

/**
 * Node's fetch (undici) gives up on a head or a body chunk after 300 s. Model requests get a
 * dispatcher of the same class without those timers, so that QWENAUTH_CONNECT_TIMEOUT_MS and
 * QWENAUTH_IDLE_TIMEOUT_MS decide. Node ships undici without exporting it; its global dispatcher
 * sits under the symbol every undici copy shares, and creating a `Headers` loads it.
 */
function nodeUntimedDispatcher(): object | undefined {
  if (untimedDispatcher === undefined) {
    untimedDispatcher = null
    void new Headers()
    const global = (globalThis as Record<symbol, unknown>)[UNDICI_DISPATCHER]
    const Dispatcher = global && typeof global === 'object' ? (Object.getPrototypeOf(global) as { constructor?: unknown }).constructor : undefined
    if (typeof Dispatcher === 'function') {
      try {
        untimedDispatcher = new (Dispatcher as DispatcherClass)({ headersTimeout: 0, bodyTimeout: 0 })
      } catch {}
    }
  }
  return untimedDispatcher ?? undefined
}

/** What a model request adds to its fetch options so that only qwenauth's own timers apply. */
export function untimedFetchOptions(runtime: Runtime = currentRuntime()): Record<string, unknown> {
  if (runtime === 'bun') return { timeout: false }
  if (runtime === 'node') {
    const dispatcher = nodeUntimedDispatcher()
    return dispatcher ? { dispatcher } : {}
  }
  return {}
}

/**
 * Places for requests in flight, handed out in arrival order. Past the limit a request waits
 * here (until a place frees or its signal aborts), not in the runtime's queue, which would let
 * it crowd out a refresh.
 */
export class FetchSlots {
  private inUse = 0
  private readonly waiting: Array<() => void> = []

  constructor(readonly limit: number) {}

  get active(): number {
    return this.inUse
  }

  /** Resolves with the release of a place; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.inUse < this.limit) return Promise.resolve(this.take())
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort)
        resolve(this.take())
      }
      const onAbort = () => {
        const at = this.waiting.indexOf(grant)
        if (at !== -1) this.waiting.splice(at, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(grant)
    })
  }

  private take(): () => void {
    this.inUse++
    let released = false
    return () => {
      if (released) return
      released = true
      this.inUse--
      this.waiting.shift()?.()
    }
  }
}

let upstreamSlots: FetchSlots | undefined

/** The process's places for model requests (the runtime's limit is per process, so is this). */
export function upstreamFetchSlots(): FetchSlots {
  return (upstreamSlots ??= new FetchSlots(upstreamFetchLimit(runtimeFetchLimit())))
}
