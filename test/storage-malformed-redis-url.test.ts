import { describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { ExitCode } from '../src/lib/errors.ts'

/**
 * README: `--storage` (and QWENAUTH_STORAGE) take a directory or a redis:// / rediss:// URL, and
 * the exit table gives "a bad `--storage`" exit 2. A redis:// URL that is not a URL at all (a port
 * typed one digit too long, a space, an unclosed IPv6 bracket) passes the scheme check and fails
 * later inside the Redis driver as a bare "Invalid URL", exit 1, naming neither the setting nor
 * the value.
 */
async function readWith(storage: string): Promise<void> {
  const ctx = createContext({ QWENAUTH_STORAGE: storage })
  try {
    await ctx.accounts.read()
  } finally {
    await ctx.close()
  }
}

describe('a malformed redis:// store URL', () => {
  it.each(['redis://127.0.0.1:99999', 'redis://[::1', 'redis://local host:6379'])('%s is a usage error naming QWENAUTH_STORAGE, not "Invalid URL" (exit 1)', async (storage) => {
    const failure = await readWith(storage).then(
      () => undefined,
      (error: unknown) => error as { exitCode?: number; message?: string },
    )
    expect(failure).toBeDefined()
    expect(failure?.message).toContain('QWENAUTH_STORAGE')
    expect(failure?.exitCode).toBe(ExitCode.usage)
  })
})
