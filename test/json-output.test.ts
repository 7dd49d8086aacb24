import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { accountsPath } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'

let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

/** A loopback port nothing listens on any more. */
async function closedPortUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  await new Promise((r) => server.close(r))
  return `http://127.0.0.1:${port}`
}

async function addKey(label: string, key: string): Promise<{ id: string; label: string; provider: string }> {
  const result = await runCli(['login', '--provider', 'openrouter', '--no-verify', '--label', label, '--json'], { home, input: key })
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout)
}

describe('--json on every command that changes or reports something', () => {
  it('use, logout and store copy print what they did as JSON on stdout', async () => {
    const first = await addKey('first', 'sk-first-key-1111')
    const second = await addKey('second', 'sk-second-key-2222')
    expect(first).toEqual({ id: expect.stringMatching(/^openrouter-/), label: 'first', provider: 'openrouter' })

    const used = await runCli(['use', 'second', '--json'], { home })
    expect(used.code, used.stderr).toBe(0)
    expect(JSON.parse(used.stdout)).toEqual(second)

    const target = join(home, 'copy')
    const copied = await runCli(['store', 'copy', '--from', home, '--to', target, '--json'], { home })
    expect(copied.code, copied.stderr).toBe(0)
    expect(JSON.parse(copied.stdout)).toEqual({ from: home, to: target, copied: [second, first], keptNewer: [] })

    const removed = await runCli(['logout', first.id, '--json'], { home })
    expect(removed.code, removed.stderr).toBe(0)
    expect(JSON.parse(removed.stdout)).toEqual({ removed: [first] })
    expect(JSON.parse((await runCli(['logout', '--all', '--json'], { home })).stdout)).toEqual({ removed: [second] })
  })

  it('a failure prints {"error":{…}} on stdout besides the line on stderr, with the same exit code', async () => {
    const url = await closedPortUrl()
    const unreachable = await runCli(['login', '--json'], { home, env: { QWENAUTH_OAUTH_URL: url } })
    expect(unreachable.code).toBe(4)
    expect(unreachable.stderr).toContain(`[error] cannot reach the Qwen OAuth server at ${url}`)
    expect(JSON.parse(unreachable.stdout)).toEqual({
      error: { message: `cannot reach the Qwen OAuth server at ${url}: connection refused`, exitCode: 4, code: 'network' },
    })

    const unknown = await runCli(['use', 'nobody', '--json'], { home })
    expect(unknown.code).toBe(2)
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ message: expect.stringContaining('no account "nobody"'), exitCode: 2, code: 'usage' })

    mkdirSync(join(home, 'qwenauth'), { recursive: true })
    writeFileSync(accountsPath(home), '{"version":1,"accounts":"no"}')
    const damaged = await runCli(['status', '--json'], { home })
    expect(damaged.code).toBe(1)
    expect(JSON.parse(damaged.stdout).error).toMatchObject({ message: expect.stringContaining('is damaged'), exitCode: 1, code: 'failure' })
  })

  it('a key login that fails says so in JSON too', async () => {
    const refused = await runCli(['login', '--provider', 'openrouter', '--json'], { home, input: 'OPENROUTER_API_KEY=sk-abc-123456' })
    expect(refused.code).toBe(2)
    expect(JSON.parse(refused.stdout)).toEqual({ error: { message: expect.stringContaining('starts with OPENROUTER_API_KEY='), exitCode: 2, code: 'usage' } })
  })
})
