import { ExitCode, QwenauthError } from './errors.ts'

/**
 * Ctrl-C and SIGTERM abort this signal, so long waits (polling, lock waits) end through their
 * normal error path and write nothing half-done. A second signal, or a command that does not
 * listen, exits at once. `exec` and `serve` take the signals over for their own handling.
 */
const controller = new AbortController()
export const interruptSignal: AbortSignal = controller.signal

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 }
const handlers = new Map<string, () => void>()

export function installInterruptHandlers(): void {
  for (const [name, code] of Object.entries(SIGNAL_EXIT)) {
    const handler = () => {
      if (controller.signal.aborted) process.exit(code)
      controller.abort(new QwenauthError('cancelled', code === 130 ? ExitCode.cancelled : code))
      setTimeout(() => process.exit(code), 1500).unref()
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
