/**
 * Review finding: a translated `/v1/messages` stream whose chat upstream ends cleanly before it
 * said why it stopped (no `finish_reason`, no `[DONE]`: a proxy or load balancer that closes the
 * chunked body on its own timeout) is finished as a whole answer: `message_delta` with
 * `stop_reason: "end_turn"` and `message_stop`. Claude Code takes the cut answer as complete.
 * The Responses translator answers the same case with `response.failed` (translated.ts `end`);
 * the Anthropic one should end with an `error` event. The same holds, at lower severity, for a
 * native Anthropic stream (relayed byte for byte) cut before `message_stop`: the native Responses
 * renderer closes such a stream with `response.failed`, the native Anthropic path adds nothing.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { messagesRequest, sseEvents } from './helpers/anthropic-fixtures.ts'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
let upstream: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()))
  upstream = undefined
  await fx?.cleanup()
})

/** A chat completions upstream whose stream stops after one piece of text, cleanly (a well-formed end of the chunked body). */
async function cutShortUpstream(): Promise<string> {
  upstream = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = { id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'qwen3-coder-plus', choices: [{ index: 0, delta: { role: 'assistant', content: 'The first half of an ans' }, finish_reason: null }] }
      res.end(`data: ${JSON.stringify(chunk)}\n\n`)
    })
  })
  await new Promise<void>((resolve) => upstream?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`
}

it('a translated stream cut short is not passed off as a finished message', async () => {
  fx = await proxyFixture()
  await addKeyAccount(fx, 'sk-review-cut-0000000000', 'cut-1', { baseUrl: await cutShortUpstream() })
  const app = proxyApp(fx)
  const res = await app.fetch(messagesRequest({ stream: true }))
  expect(res.status).toBe(200)
  const events = sseEvents(await res.text())
  const types = events.map(([type]) => type)
  expect(types).toContain('error')
  expect(types).not.toContain('message_stop')
})

/** An Anthropic Messages upstream whose stream stops, cleanly, before message_delta and message_stop. */
async function cutShortNative(): Promise<string> {
  const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
  upstream = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(
        event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'qwen3-coder-plus', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } }) +
          event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
          event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'The first half of an ans' } }),
      )
    })
  })
  await new Promise<void>((resolve) => upstream?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
}

it('a native stream cut short before message_stop ends with an error event', async () => {
  fx = await proxyFixture()
  const base = await cutShortNative()
  await addKeyAccount(fx, 'sk-review-cut-native-0000000000', 'cut-native-1', { baseUrl: `${base}/v1`, anthropicBaseUrl: base })
  const app = proxyApp(fx)
  const res = await app.fetch(messagesRequest({ stream: true }))
  expect(res.status).toBe(200)
  const types = sseEvents(await res.text()).map(([type]) => type)
  expect(types).toContain('error')
})
