import { readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { isatty } from 'node:tty'

/**
 * The signals that end a command, each handled rather than left to kill the process: Ctrl-C,
 * SIGTERM (`kill`, systemd, a cancelled CI job) and SIGHUP (the terminal or the SSH session
 * closed). Handled, a refresh the OAuth server may already have acted on is finished before the
 * exit, `serve` lets requests in flight finish, and `exec` passes the signal on.
 *
 * A process started with SIGHUP ignored (`nohup`) keeps ignoring it: a handler would undo that.
 * Linux shows the ignore in /proc; elsewhere a stderr that is not a terminal stands for it
 * (nohup sends a terminal's output to a file), so SIGHUP is handled only where a terminal can
 * hang up on the process. (Node resets an inherited ignore at start-up, so under Node nohup
 * protects nothing either way; the binary keeps it.) Decided once, at load, before any handler
 * of this process could change what /proc shows.
 */
const HANGUP_HANDLED = !hangupIgnoredAtStart()

export function stopSignals(): NodeJS.Signals[] {
  return HANGUP_HANDLED ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGINT', 'SIGTERM']
}

/** What a shell reports for a process a signal ended: 128 + its number (130, 143, 129). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0)
}

function hangupIgnoredAtStart(): boolean {
  if (process.platform === 'linux') {
    try {
      const ignored = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
      // Bit n-1 stands for signal n; SIGHUP is 1.
      if (ignored) return (BigInt(`0x${ignored}`) & 1n) === 1n
    } catch {
      // No /proc (a sandbox): judge by the terminal, as elsewhere.
    }
  }
  return !isatty(2)
}
