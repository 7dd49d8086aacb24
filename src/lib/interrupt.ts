import { ExitCode, QwenauthError } from './errors.ts'
import { logger } from './logger.ts'
import { signalExitCode, stopSignals } from './stop-signals.ts'
import { beginExit, finishUnfinishedWork, unfinishedWork } from './unfinished-work.ts'

/**
 * Ctrl-C, SIGTERM and a closed terminal (SIGHUP; see stop-signals.ts) abort this signal, so long waits (polling, lock waits) end through their
 * normal error path and write nothing half-done. A command that does not listen is exited 1.5 s
 * later, and a second signal exits at once (a SIGTERM and a SIGHUP together count once). Work an exit must not cut (a token refresh the OAuth
 * server may already have acted on, see unfinished-work.ts) is waited for first, except by the
 * second signal, which says what it risks. `exec` and `serve` take the signals over for their own
 * handling.
 */
const controller = new AbortController()
export const interruptSignal: AbortSignal = controller.signal

const handlers = new Map<string, () => void>()
let firstSignal: NodeJS.Signals | undefined

/**
 * Whether a signal after the first means "now". A SIGTERM and a SIGHUP together are one stop:
 * logind ends a session's processes with both (systemd's SendSIGHUP), in either order as the
 * kernel delivers them; nobody asked twice.
 */
function insists(first: NodeJS.Signals, next: NodeJS.Signals): boolean {
  const pair = new Set([first, next])
  return !(pair.has('SIGTERM') && pair.has('SIGHUP'))
}

export function installInterruptHandlers(): void {
  for (const name of stopSignals()) {
    const code = signalExitCode(name)
    const handler = () => {
      if (controller.signal.aborted) {
        if (firstSignal && !insists(firstSignal, name)) return
        process.exit(code)
      }
      firstSignal = name
      beginExit()
      const unfinished = unfinishedWork()
      if (unfinished.length > 0) {
        const again = name === 'SIGINT' ? 'Ctrl-C again' : `another ${name}`
        logger.warn(`finishing ${unfinished.join(' and ')} the OAuth server may already have acted on, so the login is kept; ${again} exits at once and may lose it`)
      }
      controller.abort(new QwenauthError('cancelled', code === 130 ? ExitCode.cancelled : code))
      setTimeout(() => void finishUnfinishedWork().then(() => process.exit(code)), 1500).unref()
    }
    handlers.set(name, handler)
    process.on(name, handler)
  }
}

/** For commands that handle signals themselves (forwarding them to a child, draining a server). */
export function releaseInterruptHandlers(): void {
  for (const [name, handler] of handlers) process.off(name, handler)
  handlers.clear()
}
