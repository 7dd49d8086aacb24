import { createConsola, type ConsolaReporter } from 'consola'
import { redactValue } from './redact.ts'

/**
 * The one logger: everything for people goes to stderr, so stdout stays clean for
 * machine output (`token`, `env`, `--json`). Every argument is redacted before any reporter
 * sees it.
 */
function createLogger() {
  const level = process.env.QWENAUTH_DEBUG ? 4 : 3
  // Fancy output only on a terminal: piped or logged stderr gets one plain line per message.
  // No throttling: consola would fold identical lines (two requests with the same status and
  // duration) into "repeated N times", and a request log must show every request.
  const base = createConsola({ level, throttle: 0, fancy: Boolean(process.stderr.isTTY), stdout: process.stderr, stderr: process.stderr })
  const redacting: ConsolaReporter[] = base.options.reporters.map((reporter) => ({
    log: (logObj, ctx) => reporter.log({ ...logObj, args: logObj.args.map(redactValue) }, ctx),
  }))
  base.setReporters(redacting)
  return base
}

export const logger = createLogger()
