import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { pollForTokens, requestDeviceAuthorization } from '../src/auth/oauth/device-flow.ts'
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

async function oauthServer(pollAnswers: Array<[number, Record<string, unknown>]>): Promise<{ url: string; polls: () => number }> {
  let polls = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      const send = (status: number, body: Record<string, unknown>) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (req.url === '/api/v1/oauth2/device/code') {
        return send(200, { device_code: 'dev-code-1234567890', user_code: 'ABCD1234', verification_uri: 'http://x/authorize', verification_uri_complete: 'http://x/authorize?user_code=ABCD1234', expires_in: 600, interval: 2 })
      }
      polls++
      const [status, body] = pollAnswers.shift() ?? [200, { access_token: 'at-after-the-blip-123456', refresh_token: 'rt-after-the-blip-123456', token_type: 'Bearer', expires_in: 21600 }]
      send(status, body)
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
})
