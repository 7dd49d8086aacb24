import { spawn } from 'node:child_process'
import { inject } from 'vitest'
import { cliEnv, collect, type CliOptions, type CliResult } from './cli.ts'
import { python3 } from './python.ts'

/**
 * Runs the CLI on a pseudo-terminal, so its stdin and stderr are TTYs as in a real shell, and
 * types `answer` once `waitFor` shows in the terminal output. python3's `pty` module does the
 * terminal work (Node has none built in). Everything the terminal shows, including any echo
 * of what was typed, comes back as `stdout`; stdout and stderr are one stream on a terminal.
 */
export interface PtyOptions extends CliOptions {
  /** Typed (followed by Enter) after `waitFor` appears; without them nothing is typed. */
  answer?: string
  waitFor?: string
}

// argv: waitFor, timeout seconds, command...; the answer comes in PTY_ANSWER so it is in no argv.
const RELAY = `
import os, pty, select, sys, time, signal
answer = os.environ.pop('PTY_ANSWER').encode()
marker, timeout, cmd = sys.argv[1].encode(), float(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(cmd[0], cmd, os.environ)
deadline = time.time() + timeout
seen, sent, status = b'', False, None
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.05)
    if ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b''
        if data:
            seen += data
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            if not sent and marker in seen:
                os.write(fd, answer + b'\\r')
                sent = True
            continue
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
while select.select([fd], [], [], 0)[0]:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
sys.stdout.flush()
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.stderr.write('pty relay: timed out\\n')
    sys.exit(124)
sys.exit(os.waitstatus_to_exitcode(status))
`

export function runCliOnPty(args: string[], options: PtyOptions): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? 15_000
  const command = options.runtime === 'binary' ? [inject('binaryCli')] : [process.execPath, inject('nodeCli')]
  const env = { ...cliEnv(options), PTY_ANSWER: options.answer ?? '' }
  // A marker that never appears when there is nothing to type.
  const waitFor = options.waitFor ?? `(nothing to type: ${process.pid}.${Date.now()})`
  const child = spawn(python3(), ['-c', RELAY, waitFor, String(timeoutMs / 1000 - 1), ...command, ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  return collect(child, undefined, timeoutMs)
}
