import { isatty } from 'node:tty'
import { errnoCode, QwenauthError } from '../lib/errors.ts'
import { releaseInterruptHandlers } from '../lib/interrupt.ts'
import { signalExitCode, stopSignals } from '../lib/stop-signals.ts'
import { programSpawner } from './spawn-program.ts'

/**
 * Runs the user's program as if qwenauth were not there: the same stdin, stdout and stderr (a
 * terminal stays a terminal), the given environment, its exit code, or 128+n when a signal
 * killed it. Resolves with that code; a program that cannot be started throws exit 127 (not
 * found) or 126 (not executable), as shells do.
 */
export async function runChild(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const spawn = await programSpawner()
  // From here on a signal must reach the child instead of ending qwenauth on its own.
  releaseInterruptHandlers()
  // isatty, not process.stdin: creating that stream can make the shared fd non-blocking.
  const interactive = isatty(0)
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(command, args, { stdio: 'inherit', env })
    } catch (error) {
      // Bun throws here (e.g. ENOEXEC) where Node and Deno emit 'error'.
      return reject(spawnError(command, error as Error))
    }
    const forwarders = new Map<string, () => void>()
    const stopForwarding = () => {
      for (const [signal, forward] of forwarders) process.off(signal, forward)
    }
    // Passed on so that `kill`, a closed terminal or Ctrl-C reach the program (SIGHUP not when
    // qwenauth runs under nohup: the program then keeps running, as it would without qwenauth).
    for (const signal of stopSignals()) {
      const forward = () => {
        // Ctrl-C at a terminal already went to the whole foreground process group, child
        // included: sending it again would count twice in programs where a second Ctrl-C
        // means "force quit". A SIGINT sent to qwenauth alone (kill -INT) is passed on.
        if (signal === 'SIGINT' && interactive) return
        if (child.exitCode === null && child.signalCode === null) sendSignal(child.pid, signal)
      }
      forwarders.set(signal, forward)
      process.on(signal, forward)
    }
    child.once('error', (error) => {
      stopForwarding()
      reject(spawnError(command, error))
    })
    child.once('exit', (code, signal) => {
      stopForwarding()
      resolve(code ?? (signal ? signalExitCode(signal) : 1))
    })
  })
}

/**
 * process.kill, not child.kill: under Deno (2.9), after child.kill the exit event reports that
 * signal even when the program caught it and exited with a code of its own, and later
 * child.kill calls may be refused (denoland/deno#36643).
 */
function sendSignal(pid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pid !== undefined) process.kill(pid, signal)
  } catch {
    // Already gone: its exit event follows.
  }
}

function spawnError(command: string, error: Error): QwenauthError {
  const code = errnoCode(error)
  if (code === 'ENOENT') return new QwenauthError(`command not found: ${command}`, 127)
  if (code === 'EACCES' || code === 'EISDIR') return new QwenauthError(`permission denied: ${command} is not executable`, 126)
  return new QwenauthError(`cannot run ${command}: ${error.message}`, 126)
}
