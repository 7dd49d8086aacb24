import { writeSync } from 'node:fs'
import { createConsola, type ConsolaReporter } from 'consola'
import { hasControl, oneLine } from './one-line.ts'
import { redactValue } from './redact.ts'

let stamped = false
let buffered = false

/**
 * Fancy output only on a terminal (where consola shows the time of day beside each line);
 * piped or logged stderr gets one plain line per message, with an ISO 8601 time in front once
 * `timestampLines()` was called.
 */
const fancy = Boolean(process.stderr.isTTY)

/** For `serve`, whose log runs for days into journald, `docker logs` or a file. */
export function timestampLines(): void {
  stamped = true
}

/**
 * Also for `serve`: lines written within one turn of the event loop go out in one write, after
 * it, instead of one synchronous write each (under load that was most of the logging's cost).
 * Every line is still written, in order, also when whatever reads stderr (journald, a `docker
 * logs` pipe, a supervisor) falls behind: the lines wait here, not in the runtime, and what is
 * still waiting when the process exits is written then (see `writeBeforeExit`).
 */
export function bufferLines(): void {
  if (buffered) return
  buffered = true
  process.on('exit', writeBeforeExit)
}

let pending = ''
let flushScheduled = false
/** Lines past this size go out at once rather than wait for the end of the turn. */
const BUFFER_LIMIT = 64 * 1024

/** Writes the buffered lines now (before a line on stdout that something waits for). */
export function flushLines(): void {
  flushPending()
}

/**
 * A pipe takes a write of up to this many bytes whole, or (when it is full and non-blocking)
 * none of it: the workers of `serve --workers` share one stderr, and their lines must not
 * interleave mid-line. So the lines are cut into pieces of whole lines up to this size, and each
 * piece is one write() of ours. process.stderr.write would not keep that: under Bun, writes to a
 * busy pipe are queued and the backlog is later sent in larger writes the kernel splits anywhere.
 */
const PIPE_BUF = 4096

/** Pieces not yet taken by stderr, in order; the first may be the rest of a partial write. */
const unwritten: Buffer[] = []
let retryTimer: ReturnType<typeof setTimeout> | undefined
/** How soon to try again when stderr was full. */
const RETRY_MS = 5

function flushPending(): void {
  flushScheduled = false
  let out = pending
  pending = ''
  while (out.length > PIPE_BUF / 4 && Buffer.byteLength(out) > PIPE_BUF) {
    // Whole lines up to PIPE_BUF bytes (a line longer than that goes alone).
    let cut = out.lastIndexOf('\n', PIPE_BUF - 1) + 1
    while (cut > 0 && Buffer.byteLength(out.slice(0, cut)) > PIPE_BUF) cut = out.lastIndexOf('\n', cut - 2) + 1
    if (cut <= 0) cut = out.indexOf('\n') + 1 || out.length
    unwritten.push(Buffer.from(out.slice(0, cut)))
    out = out.slice(cut)
  }
  if (out !== '') unwritten.push(Buffer.from(out))
  if (retryTimer === undefined) writeUnwritten()
}

/**
 * Writes what stderr takes now. When it is full (EAGAIN: Bun and Node leave a pipe non-blocking),
 * tries again shortly, without holding up the requests being served.
 */
function writeUnwritten(): void {
  retryTimer = undefined
  if (writeWhatFits() === 'full') retryTimer = setTimeout(writeUnwritten, RETRY_MS)
}

function writeWhatFits(): 'done' | 'full' {
  while (unwritten.length > 0) {
    const piece = unwritten[0]!
    let written: number
    try {
      written = writeSync(2, piece)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 'full'
      // stderr is gone (EPIPE, EBADF): nobody is left to read the lines.
      unwritten.length = 0
      return 'done'
    }
    if (written < piece.length) unwritten[0] = piece.subarray(written)
    else unwritten.shift()
  }
  return 'done'
}

/** How long an exiting process waits for a slow stderr reader before it gives up on the lines. */
const EXIT_WAIT_MS = 10_000
const sleeper = new Int32Array(new SharedArrayBuffer(4))

/**
 * At exit nothing asynchronous runs any more, so the lines still owed to stderr are written
 * here, waiting (briefly, synchronously) whenever the pipe is full, for at most EXIT_WAIT_MS.
 */
function writeBeforeExit(): void {
  if (pending !== '') flushPending()
  clearTimeout(retryTimer)
  const deadline = Date.now() + EXIT_WAIT_MS
  while (writeWhatFits() === 'full' && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, RETRY_MS)
}

let lastStampAt = -1
let lastStamp = ''
/** The ISO time, formatted once per millisecond. */
function stamp(): string {
  const now = Date.now()
  if (now !== lastStampAt) {
    lastStampAt = now
    lastStamp = new Date(now).toISOString()
  }
  return lastStamp
}

function writeStderr(data: string): boolean {
  const line = stamped && !fancy ? `${stamp()} ${data}` : data
  if (!buffered) return process.stderr.write(line)
  pending += line
  if (pending.length >= BUFFER_LIMIT) flushPending()
  else if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushPending)
  }
  return true
}

/** stderr, with the time in front of each message when asked for. */
const stderrSink = {
  write: writeStderr,
  get columns(): number | undefined {
    return process.stderr.columns
  },
}

/**
 * An argument as a reporter may print it: redacted, and a text or an error's message on one line
 * without control characters (messages quote upstreams, labels and other outside text). One
 * regex test for a text that has none: `serve` logs every request.
 */
function printable(value: unknown): unknown {
  const redacted = redactValue(value)
  if (typeof redacted === 'string') return oneLine(redacted)
  if (redacted instanceof Error && hasControl(redacted.message)) {
    const copy = new Error(oneLine(redacted.message))
    copy.name = redacted.name
    return copy
  }
  return redacted
}

/**
 * The one logger: everything for people goes to stderr, so stdout stays clean for
 * machine output (`token`, `env`, `--json`). Every argument is redacted and put on one line
 * (`printable`) before any reporter sees it.
 */
function createLogger() {
  const level = process.env.QWENAUTH_DEBUG ? 4 : 3
  // No throttling: consola would fold identical lines (two requests with the same status and
  // duration) into "repeated N times", and a request log must show every request.
  const stream = stderrSink as unknown as NodeJS.WriteStream
  const base = createConsola({ level, throttle: 0, fancy, stdout: stream, stderr: stream })
  const redacting: ConsolaReporter[] = base.options.reporters.map((reporter) => ({
    log: (logObj, ctx) => reporter.log({ ...logObj, args: logObj.args.map(printable) }, ctx),
  }))
  base.setReporters(redacting)
  return base
}

export const logger = createLogger()

/**
 * An info line that is already redacted and on one line (the request log's), without consola's
 * formatting and second pass: the same `[info] …` line consola's plain reporter writes. On a
 * terminal consola's fancy reporter still writes it.
 */
export function infoLine(line: string): void {
  if (logger.level < 3) return
  if (fancy) logger.info(line)
  else writeStderr(`[info] ${line}\n`)
}
