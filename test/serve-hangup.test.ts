/**
 * `serve` in a terminal or an SSH session that closes: SIGHUP. Left to its default it killed
 * serve mid-answer (and mid-refresh, burning a rotated refresh token); it is a stop signal like
 * SIGTERM, with the drain. Under nohup the hangup is ignored, as nohup promises.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { endedAfterEachTest, spawnServe } from './helpers/serve-instances.ts'
import { chatRequest, loginAs, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture | undefined
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
})
// Registered after, so it runs first: the processes go before the emulator.
const { children } = endedAfterEachTest()

function post(baseUrl: string): Promise<Response> {
  const request = chatRequest({})
  return fetch(`${baseUrl}/chat/completions`, { method: 'POST', headers: request.headers, body: request.body, duplex: 'half' } as RequestInit)
}

describe('serve and a closed terminal (SIGHUP)', () => {
  for (const runtime of ['node', 'binary'] as const) {
    it(`serve (${runtime}) finishes the request in flight, then exits 0`, async () => {
      fx = await proxyFixture()
      await loginAs(fx, 'hangup@example.com')
      const served = await spawnServe([], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, runtime, children })
      fx.emu.delayNextResponse(800)
      const slow = post(served.baseUrl)
      await waitFor(() => fx!.emu.requests.length === 1, 3000, 'the slow request upstream')
      served.child.kill('SIGHUP')
      expect((await slow).status).toBe(200)
      expect(await served.exited).toBe(0)
      expect(served.stderr()).toMatch(/SIGHUP: finishing requests in flight, then stopping/)
    })
  }

  it('under nohup, the binary keeps serving after the hangup', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'nohup@example.com')
    const served = await spawnServe([], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, runtime: 'binary', children, nohup: true })
    served.child.kill('SIGHUP')
    // Answered after the hangup: the process is still there and still listening.
    expect((await post(served.baseUrl)).status).toBe(200)
    expect(served.child.exitCode).toBeNull()
    served.child.kill('SIGTERM')
    expect(await served.exited).toBe(0)
    expect(served.stderr()).not.toMatch(/SIGHUP/)
  })
})
