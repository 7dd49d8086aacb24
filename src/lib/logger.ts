import { createConsola, type ConsolaReporter } from 'consola'
import { redactValue } from './redact.ts'

let stamped = false

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

/** stderr, with the time in front of each message when asked for; one write per message. */
const stderrSink = {
  write(data: string): boolean {
    return process.stderr.write(stamped && !fancy ? `${new Date().toISOString()} ${data}` : data)
  },
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
