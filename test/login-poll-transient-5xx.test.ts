import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { pollForTokens, requestDeviceAuthorization } from '../src/auth/oauth/device-flow.ts'
import { ExitCode, QwenauthError } from '../src/lib/errors.ts'
import { fakeClock } from './helpers/fake-clock.ts'

/**
 * A login waits up to 10 minutes for someone to approve on their phone. A token endpoint that
 * answers one poll with a 5xx (a load balancer's 502, a 503 during a deploy) says nothing about
 * the code: the official CLI (qwen-code 0.24.4 authWithQwenDeviceFlow) logs "Error polling for
 * token" and keeps polling; qwenauth ends the login at once ("the login failed (HTTP 503)", exit
 * 1 although README's exit table gives 4 to a server that failed with a 5xx), and the approval
 * the user is giving is lost.
 */
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

/** One poll's answer: status and JSON body, raw text (a proxy's error page), or a dropped connection. */
type PollAnswer = [number, Record<string, unknown>] | [number, string] | 'drop'

async function oauthServer(pollAnswers: PollAnswer[], deviceCode: [number, Record<string, unknown>] | undefined = undefined): Promise<{ url: string; polls: () => number }> {
  let polls = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      const send = (status: number, body: Record<string, unknown>) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.url === '/api/v1/oauth2/device/code') {
        if (deviceCode) return send(...deviceCode)
        return send(200, { device_code: 'dev-code-1234567890', user_code: 'ABCD1234', verification_uri: 'http://x/authorize', verification_uri_complete: 'http://x/authorize?user_code=ABCD1234', expires_in: 600, interval: 2 })
      }
      polls++
      const answer = pollAnswers.shift() ?? [200, { access_token: 'at-after-the-blip-123456', refresh_token: 'rt-after-the-blip-123456', token_type: 'Bearer', expires_in: 21600 }]
      if (answer === 'drop') return res.socket?.destroy()
      const [status, body] = answer
      if (typeof body !== 'string') return send(status, body)
      res.writeHead(status, { 'content-type': 'text/html' })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, polls: () => polls }
}

describe('the device flow while waiting for approval', () => {
  it('keeps polling after one 5xx from the token endpoint, as the official CLI does, and logs in', async () => {
    const clock = fakeClock()
    const oauth = await oauthServer([
      [400, { error: 'authorization_pending' }],
      [503, { error: 'server_error', error_description: 'service temporarily unavailable' }],
    ])
    const auth = await requestDeviceAuthorization(oauth.url, undefined, clock)
    const tokens = await pollForTokens(oauth.url, auth, undefined, clock)
    expect(tokens.accessToken).toBe('at-after-the-blip-123456')
    expect(oauth.polls()).toBe(3)
  })

  it('also keeps polling after an answer that is not JSON and a dropped connection, and says so once', async () => {
    const clock = fakeClock()
    const oauth = await oauthServer([[502, '<html><body>502 Bad Gateway</body></html>'], 'drop', [400, { error: 'authorization_pending' }]])
    const auth = await requestDeviceAuthorization(oauth.url, undefined, clock)
    const notices: string[] = []
    const tokens = await pollForTokens(oauth.url, auth, undefined, clock, (line) => notices.push(line))
    expect(tokens.accessToken).toBe('at-after-the-blip-123456')
    expect(oauth.polls()).toBe(4)
    // The interval is kept: a failing server is not polled faster, nor slowed down like slow_down.
    expect(clock.slept).toEqual([2000, 2000, 2000, 2000])
    expect(notices).toHaveLength(1)
    expect(notices[0]).toMatch(/HTTP 502.*502 Bad Gateway.*still waiting for approval/)
  })

  it('blames the server, exit 4, when the code expires while it keeps failing', async () => {
    const clock = fakeClock()
    const oauth = await oauthServer(Array.from({ length: 400 }, (): PollAnswer => [503, { error: 'server_error' }]))
    const auth = await requestDeviceAuthorization(oauth.url, undefined, clock)
    const error = await pollForTokens(oauth.url, auth, undefined, clock, () => {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(QwenauthError)
    expect((error as QwenauthError).exitCode).toBe(ExitCode.network)
    expect((error as QwenauthError).message).toMatch(/expired while the Qwen OAuth server was failing \(.*HTTP 503/)
    expect(oauth.polls()).toBe(299) // every 2 s for the code's 600 s, none at or after the expiry
  })

  it('still ends the login on an answer the device flow does not define (4xx)', async () => {
    const clock = fakeClock()
    const oauth = await oauthServer([[400, { error: 'invalid_request', error_description: 'bad device code' }]])
    const auth = await requestDeviceAuthorization(oauth.url, undefined, clock)
    const error = await pollForTokens(oauth.url, auth, undefined, clock, () => {}).catch((e: unknown) => e)
    expect((error as QwenauthError).exitCode).toBe(ExitCode.failure)
    expect(oauth.polls()).toBe(1)
  })
})

describe('the device-code request', () => {
  it('exits 4 when the server fails with a 5xx, as README\'s exit table says', async () => {
    const oauth = await oauthServer([], [503, { error: 'server_error', error_description: 'service temporarily unavailable' }])
    const error = await requestDeviceAuthorization(oauth.url, undefined, fakeClock()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(QwenauthError)
    expect((error as QwenauthError).exitCode).toBe(ExitCode.network)
    expect((error as QwenauthError).message).toMatch(/failed to start a login \(HTTP 503\): service temporarily unavailable/)
  })

  it('keeps exit 1 for a refusal (4xx)', async () => {
    const oauth = await oauthServer([], [400, { error: 'invalid_client' }])
    const error = await requestDeviceAuthorization(oauth.url, undefined, fakeClock()).catch((e: unknown) => e)
    expect((error as QwenauthError).exitCode).toBe(ExitCode.failure)
  })
})
