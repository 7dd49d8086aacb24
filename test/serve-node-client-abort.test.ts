/**
 * Under Node, a client that aborts a stream (Node's own fetch, here) may keep its socket open.
 * The response on it was cut, so the connection can carry nothing more; serve must close it,
 * not count it as a request in flight that its stop then waits out (the whole drain time).
 */
import { afterEach, expect, it, vi } from 'vitest'
import { runServe } from '../src/commands/serve.ts'
import { chatRequest, loginAs, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture | undefined
afterEach(async () => {
  vi.restoreAllMocks()
  await fx?.cleanup()
  fx = undefined
})

it('a stream the client aborted does not hold up the stop of serve (Node)', async () => {
  fx = await proxyFixture({ streamDelayMs: 150 })
  await loginAs(fx, 'stream@example.com')
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  // A drain longer than the stop is given below: the stop must not wait for it.
  const server = await runServe({ port: 0, drainMs: 8_000 }, { QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url } as NodeJS.ProcessEnv)
  const controller = new AbortController()
  const request = chatRequest({ stream: true })
  const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: request.headers, body: request.body, duplex: 'half', signal: controller.signal } as RequestInit)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/"role":"assistant"/)
  controller.abort()
  await waitFor(() => fx!.emu.abortedRequests === 1, 3000, 'the upstream abort')
  let closed = false
  const closing = server.close().then(() => (closed = true))
  try {
    await waitFor(() => closed, 4000, 'serve to stop before its drain time is out')
  } finally {
    await closing
  }
}, 20_000)
