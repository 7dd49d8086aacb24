import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { requestDeviceAuthorization } from '../src/auth/oauth/device-flow.ts'

let server: Server | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  server?.closeAllConnections()
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = undefined
})

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler)
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function captureStderr(): () => string {
  let text = ''
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk)
    return true
  })
  return () => text
}

describe('what login says about the OAuth server', () => {
  it('says it is waiting when the server takes the connection but does not answer', async () => {
    // Accepts, reads the request, never answers.
    let received = false
    const url = await serve(() => void (received = true))
    const stderr = captureStderr()
    const stop = new AbortController()
    // The notice's timer runs on a fake clock: 2 s pass at once, and exactly.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const login = requestDeviceAuthorization(url, stop.signal).catch((error: unknown) => error)
      // (vi.waitUntil would move the fake clock on; setImmediate is left real.)
      const deadline = Date.now() + 10_000
      while (!received && Date.now() < deadline) await new Promise((r) => setImmediate(r))
      expect(received).toBe(true)
      vi.advanceTimersByTime(1_999)
      expect(stderr()).not.toContain('waiting for')
      vi.advanceTimersByTime(1)
      expect(stderr()).toContain(`waiting for the Qwen OAuth server at ${url}: no answer after 2 s (giving up after 30 s; Ctrl-C cancels)`)
      stop.abort(new Error('test over'))
      await login
    } finally {
      vi.useRealTimers()
    }
  })

  it('hints that QWENAUTH_OAUTH_URL is the server root when it has a path and the server refuses', async () => {
    const url = await serve((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found'))
    const failure = requestDeviceAuthorization(`${url}/v1`)
    await expect(failure).rejects.toThrow(/refused to start a login \(HTTP 404\)/)
    await expect(failure).rejects.toMatchObject({
      hint: `QWENAUTH_OAUTH_URL should be the OAuth server's root (such as ${url} or https://chat.qwen.ai), not a path like /v1: qwenauth adds /api/v1/oauth2/device/code itself`,
    })
    // The root itself gets no such hint.
    await expect(requestDeviceAuthorization(url)).rejects.toMatchObject({ hint: undefined })
  })
})
