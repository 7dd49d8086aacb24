import { describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { ExitCode } from '../src/lib/errors.ts'
import { runCli, tempHome } from './helpers/cli.ts'

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

  it.each([
    ['redis://127.0.0.1:0', /port must be a number from 1 to 65535, not "0"/],
    ['redis://127.0.0.1:6379/cache', /database must be a number .*not "cache"/],
    ['redis://127.0.0.1:6379?db=one', /database must be a number .*not "one"/],
  ])('%s (a port or database the driver cannot use) is a usage error too', async (storage, says) => {
    const failure = await readWith(storage).then(
      () => undefined,
      (error: unknown) => error as { exitCode?: number; message?: string },
    )
    expect(failure?.exitCode).toBe(ExitCode.usage)
    expect(failure?.message).toMatch(says)
  })

  it('never shows the password, even in a URL that does not parse', async () => {
    const failure = await readWith('redis://:hunter2-s/cret@local host:6379').catch((error: unknown) => error as { message: string })
    expect(failure?.message).toContain('QWENAUTH_STORAGE redis://…@local host:6379')
    expect(failure?.message).not.toMatch(/hunter2|cret/)
  })

  it('names --storage when the flag gave it, and reads nothing (exit 2)', async () => {
    const { home, cleanup } = tempHome()
    try {
      const result = await runCli(['status', '--storage', 'redis://127.0.0.1:99999'], { home })
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/--storage redis:\/\/127\.0\.0\.1:99999: the port must be a number from 1 to 65535/)
      expect(result.stderr).not.toMatch(/Invalid URL/)
    } finally {
      cleanup()
    }
  })
})
