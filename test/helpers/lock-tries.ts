import { promises as fsp } from 'node:fs'
import { onTestFinished, vi } from 'vitest'

/**
 * How often this process has tried to create the lock file at `path` from now on (a try takes
 * the lock or finds it held): a test sees that a taker has reached a lock instead of giving it
 * a while to. Call it inside a test; the spy ends with the test.
 */
export function lockTries(path: string): () => number {
  const realOpen = fsp.open.bind(fsp)
  let tries = 0
  const spy = vi.spyOn(fsp, 'open').mockImplementation((...args: Parameters<typeof fsp.open>) => {
    if (String(args[0]) === path && args[1] === 'wx') tries++
    return realOpen(...args)
  })
  onTestFinished(() => spy.mockRestore())
  return () => tries
}
