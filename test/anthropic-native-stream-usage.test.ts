/**
 * Review finding: usage of a native Anthropic stream is read per upstream chunk with
 * `findUsage`, which takes only the last `"usage"` in the text. When `message_start` (which
 * carries `input_tokens`) and `message_delta` (which, as Anthropic documents it, carries only
 * `output_tokens`) arrive in one chunk (a short answer, a buffering hop, the emulator at full
 * speed), the input tokens are lost: the account's counters, token windows and token limits
 * count 0 prompt tokens for the request.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { readAllStats } from '../src/store/stats-backend.ts'
import { messagesRequest } from './helpers/anthropic-fixtures.ts'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
let upstream: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()))
  upstream = undefined
  await fx?.cleanup()
})

const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`

/** An Anthropic Messages upstream that sends its whole (documented) event sequence in one write. */
async function oneChunkAnthropic(): Promise<string> {
  upstream = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.end(
        event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'qwen3-coder-plus', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 250, output_tokens: 1 } } }) +
          event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
          event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }) +
          event('content_block_stop', { index: 0 }) +
          event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 7 } }) +
          event('message_stop', {}),
      )
    })
  })
  await new Promise<void>((resolve) => upstream?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
}

it("a native stream's input tokens count when message_start and message_delta come in one chunk", async () => {
  fx = await proxyFixture()
  const base = await oneChunkAnthropic()
  const account = await addKeyAccount(fx, 'sk-review-native-0000000000', 'native-1', { baseUrl: `${base}/v1`, anthropicBaseUrl: base })
  const lines: string[] = []
  const app = proxyApp(fx, { lines })
  const res = await app.fetch(messagesRequest({ stream: true }))
  expect(res.status).toBe(200)
  await res.text()
  await app.close()
  const stats = (await readAllStats(fx.ctx))[account.id]
  expect(lines.join('\n')).toContain('250+7 tokens')
  expect(stats?.promptTokens).toBe(250)
  expect(stats?.completionTokens).toBe(7)
})
