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
    const url = await serve(() => {})
    const stderr = captureStderr()
    const stop = new AbortController()
    const started = Date.now()
    const login = requestDeviceAuthorization(url, stop.signal).catch((error: unknown) => error)
    for (let i = 0; i < 150 && !stderr().includes('waiting for'); i++) await new Promise((r) => setTimeout(r, 100))
    const waitedMs = Date.now() - started
    stop.abort(new Error('test over'))
    await login
    expect(stderr()).toContain(`waiting for the Qwen OAuth server at ${url}: no answer after 2 s (giving up after 30 s; Ctrl-C cancels)`)
    expect(waitedMs).toBeGreaterThanOrEqual(1900)
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
