/**
 * A number setting in the environment that does not parse is one line naming it and exit 2,
 * before anything is read or written: silently taking the default instead would leave the user
 * believing a limit or timeout is set.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'

const { home, cleanup } = tempHome()
afterAll(() => cleanup())

describe('number settings', () => {
  it.each([
    [['status'], 'QWENAUTH_LOCK_STALE_MS', '10s'],
    [['token'], 'QWENAUTH_REFRESH_TIMEOUT_MS', '30 s'],
    [['token'], 'QWENAUTH_REFRESH_TIMEOUT_MS', '0x10'],
    [['serve', '--port', '0'], 'QWENAUTH_IDLE_TIMEOUT_MS', '5m'],
    [['serve', '--port', '0'], 'QWENAUTH_MAX_BODY_BYTES', '64MB'],
    [['serve', '--port', '0'], 'QWENAUTH_CLIENT_TIMEOUT_MS', '-1'],
    [['serve', '--port', '0'], 'QWENAUTH_MAX_ANSWER_BYTES', '1e9'],
    [['serve', '--port', '0'], 'QWENAUTH_POOL_REFRESH_MS', 'often'],
  ])('%j with %s=%j: exit 2, one line naming it', async (argv, name, value) => {
    const result = await runInProcess(argv, { home, env: { [name]: value } })
    expect(result.code).toBe(2)
    // The line cli.ts prints for it (the process tests check the printing).
    const message = (result.error as Error | undefined)?.message ?? ''
    expect(message).toContain(`${name}=${value}`)
    expect(message).not.toContain('\n')
  })
})
