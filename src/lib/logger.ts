import { writeSync } from 'node:fs'
import { createConsola, type ConsolaReporter } from 'consola'
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
 * Every line is still written, in order; what is pending when the process exits is written then.
 */
export function bufferLines(): void {
  if (buffered) return
  buffered = true
  process.on('exit', () => {
    if (pending === '') return
    try {
      writeSync(2, pending)
    } catch {}
    pending = ''
  })
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
 * A pipe takes a write of up to this many bytes whole: the workers of `serve --workers` share
 * one stderr, and their lines must not interleave mid-line.
 */
const PIPE_BUF = 4096

function flushPending(): void {
  flushScheduled = false
  let out = pending
  pending = ''
  while (out.length > PIPE_BUF / 4 && Buffer.byteLength(out) > PIPE_BUF) {
    // Whole lines up to PIPE_BUF bytes (a line longer than that goes alone).
    let cut = out.lastIndexOf('\n', PIPE_BUF - 1) + 1
    while (cut > 0 && Buffer.byteLength(out.slice(0, cut)) > PIPE_BUF) cut = out.lastIndexOf('\n', cut - 2) + 1
    if (cut <= 0) cut = out.indexOf('\n') + 1 || out.length
    process.stderr.write(out.slice(0, cut))
    out = out.slice(cut)
  }
  if (out !== '') process.stderr.write(out)
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
 * The one logger: everything for people goes to stderr, so stdout stays clean for
 * machine output (`token`, `env`, `--json`). Every argument is redacted before any reporter
 * sees it.
 */
function createLogger() {
  const level = process.env.QWENAUTH_DEBUG ? 4 : 3
  // No throttling: consola would fold identical lines (two requests with the same status and
  // duration) into "repeated N times", and a request log must show every request.
  const stream = stderrSink as unknown as NodeJS.WriteStream
  const base = createConsola({ level, throttle: 0, fancy, stdout: stream, stderr: stream })
  const redacting: ConsolaReporter[] = base.options.reporters.map((reporter) => ({
    log: (logObj, ctx) => reporter.log({ ...logObj, args: logObj.args.map(redactValue) }, ctx),
  }))
  base.setReporters(redacting)
  return base
}

export const logger = createLogger()

/**
 * An info line that is already redacted (the request log's), without consola's formatting and
 * second redaction pass: the same `[info] …` line consola's plain reporter writes. On a terminal
 * consola's fancy reporter still writes it.
 */
export function infoLine(line: string): void {
  if (logger.level < 3) return
  if (fancy) logger.info(line)
  else writeStderr(`[info] ${line}\n`)
}
