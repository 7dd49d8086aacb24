import { afterAll, vi } from 'vitest'

/**
 * Files of the `shared` project run one after another in one process (vitest.config.ts), so a
 * file must leave the process as it found it. This runs before each of them and fails the file
 * that leaves behind what would change later files: a process.env that is no longer the real
 * environment (os.homedir() and child processes read that one), fake timers, an exit code.
 */
const shared = globalThis as typeof globalThis & { qwenauthRealEnv?: NodeJS.ProcessEnv }
shared.qwenauthRealEnv ??= process.env

afterAll(() => {
  const left: string[] = []
  if (process.env !== shared.qwenauthRealEnv) left.push('process.env replaced by another object (restore it in place)')
  if (vi.isFakeTimers()) left.push('fake timers still installed')
  if (process.exitCode !== undefined && process.exitCode !== 0) left.push(`process.exitCode set to ${process.exitCode}`)
  if (left.length > 0) throw new Error(`this file changed the shared test process: ${left.join('; ')}`)
})
