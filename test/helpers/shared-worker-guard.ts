import { afterAll, vi } from 'vitest'
import { logger } from '../../src/lib/logger.ts'

/**
 * Files of the `shared` project run one after another in one process (vitest.config.ts), so a
 * file must leave the process as it found it. This runs before each of them and fails the file
 * that leaves behind what would change later files: a process.env that is no longer the real
 * environment (os.homedir() and child processes read that one), fake timers, an exit code, the
 * log switched to serve's buffered lines (later files would no longer see what is logged).
 */
const shared = globalThis as typeof globalThis & { qwenauthRealEnv?: NodeJS.ProcessEnv }
shared.qwenauthRealEnv ??= process.env

afterAll(() => {
  const left: string[] = []
  if (process.env !== shared.qwenauthRealEnv) left.push('process.env replaced by another object (restore it in place)')
  if (vi.isFakeTimers()) left.push('fake timers still installed')
  if (process.exitCode !== undefined && process.exitCode !== 0) left.push(`process.exitCode set to ${process.exitCode}`)
  if (!logReachesStderr()) left.push("the log switched to serve's buffered lines (run serve in-process only in an ISOLATED file, vitest.config.ts)")
  if (left.length > 0) throw new Error(`this file changed the shared test process: ${left.join('; ')}`)
})

/** Whether a log line still goes through process.stderr.write at once, as it does until `serve` buffers the log. */
function logReachesStderr(): boolean {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    logger.info('shared-worker-guard: is the log buffered?')
    return spy.mock.calls.length > 0
  } finally {
    spy.mockRestore()
  }
}
