import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { accountsPath, readJsonFile } from './helpers/accounts.ts'
import { collect, spawnCli, tempHome } from './helpers/cli.ts'

/**
 * Qwen's refresh tokens rotate: the server spends the old one when it takes the request, and the
 * new one exists only in its answer. account-store.ts says so itself ("nor cut a refresh request
 * the server may already have acted on (the rotated refresh token would be lost with the
 * answer)") and never ties a refresh to a caller's signal. But `qwenauth token` (and `env`,
 * `exec --direct`) stops waiting on Ctrl-C/SIGTERM and the CLI exits at once, cutting that very
 * request: the store keeps the spent refresh token and the login is dead (`needs-login` at the
 * next refresh). A `timeout 5 qwenauth token` in a script, or a CI job cancelled, does the same.
 */
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo()
})

describe('qwenauth token interrupted while it refreshes', () => {
  it('stores the rotated refresh token the server already issued before it exits', async () => {
    const { home, cleanup } = tempHome()
    cleanups.push(cleanup)
    let held: ServerResponse | undefined
    let refreshArrived!: () => void
    const arrived = new Promise<void>((resolve) => (refreshArrived = resolve))
    const issued = { access_token: 'at-rotated-2222222222', refresh_token: 'rt-rotated-2222222222', token_type: 'Bearer', expires_in: 21600 }
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        // The server commits the rotation as it takes the request; its answer comes later.
        held = res
        refreshArrived()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })
    const oauthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

    const ctx = createContext({ QWEN_HOME: home })
    const now = Date.now()
    await ctx.accounts.update((doc) => {
      doc.accounts.push({ id: 'qwen-0badcafe', label: 'ada@example.com', kind: 'qwen-oauth', provider: 'qwen-oauth', baseUrl: 'https://portal.qwen.ai/v1', accessToken: 'at-expired-1111111111', refreshToken: 'rt-spent-by-the-server-1111', tokenType: 'Bearer', resourceUrl: 'portal.qwen.ai', expiresAt: now - 60_000, status: 'ok', createdAt: now, updatedAt: now })
    })
    await ctx.close()

    const child = spawnCli(['token'], { home, env: { QWENAUTH_OAUTH_URL: oauthUrl } })
    const done = collect(child, undefined, 20_000)
    await arrived
    child.kill('SIGINT')
    // The answer goes out once the CLI has reacted to the signal (it says so, or exits), or after
    // a second at the latest: a CLI that waits for its refresh gets it then.
    let stderr = ''
    child.stderr?.on('data', (d: Buffer | string) => (stderr += String(d)))
    await Promise.race([
      new Promise((resolve) => child.once('exit', resolve)),
      new Promise((resolve) => {
        const check = () => (/cancel/i.test(stderr) ? resolve(undefined) : undefined)
        child.stderr?.on('data', check)
      }),
      new Promise((resolve) => setTimeout(resolve, 1000)),
    ])
    if (held && !held.destroyed) {
      held.writeHead(200, { 'content-type': 'application/json' })
      held.end(JSON.stringify(issued))
    }
    await done

    const stored = (readJsonFile(accountsPath(home)).accounts as Array<{ refreshToken: string }>)[0]
    expect(stored?.refreshToken).toBe('rt-rotated-2222222222')
  })
})
