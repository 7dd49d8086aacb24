/**
 * Anthropic's usage counts the prompt in three parts: `input_tokens` (after the last cache
 * breakpoint), `cache_creation_input_tokens` and `cache_read_input_tokens`; the prompt is their
 * sum. Chat APIs count cached tokens inside `prompt_tokens`. qwenauth counts "prompt plus
 * completion" tokens per account (README, "Usage"), and token limits (`month-tokens=50M`) act on
 * that figure, but on native Anthropic accounts (Coding Plan, DashScope) it took `input_tokens`
 * alone: with Claude Code, which marks its prompt for caching on every turn, nearly the whole
 * prompt is a cache read, and the same conversation counted a fraction of what it counts when a
 * translated account serves it.
 */
import { afterEach, expect, it } from 'vitest'
import { readAllStats } from '../src/store/stats-backend.ts'
import { messagesRequest } from './helpers/anthropic-fixtures.ts'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0)) await undo()
  await fx?.cleanup()
})

const USAGE = { input_tokens: 12, cache_creation_input_tokens: 300, cache_read_input_tokens: 4000 }
const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`

/**
 * An Anthropic Messages upstream whose prompt was mostly read from its cache. `deltaUsage`: what
 * its stream's message_delta says (counts there are cumulative, each field optional; some
 * upstreams repeat `input_tokens` there without the cache's fields).
 */
async function cachingAnthropic(deltaUsage: Record<string, number> = { output_tokens: 7 }): Promise<string> {
  const v1 = await stubUpstream((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'qwen3-coder-plus', content: [], stop_reason: null, stop_sequence: null }
      if (JSON.parse(body).stream !== true) {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ ...message, content: [{ type: 'text', text: 'Hello' }], stop_reason: 'end_turn', usage: { ...USAGE, output_tokens: 7 } }))
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(event('message_start', { message: { ...message, usage: { ...USAGE, output_tokens: 1 } } }))
      res.write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) + event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }) + event('content_block_stop', { index: 0 }))
      res.end(event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: deltaUsage }) + event('message_stop', {}))
    })
  }, cleanups)
  return v1.replace(/\/v1$/, '')
}

const CASES = [
  { name: 'answer', stream: false },
  { name: 'stream', stream: true },
  { name: 'stream whose message_delta repeats input_tokens alone', stream: true, deltaUsage: { input_tokens: 12, output_tokens: 7 } },
]

for (const { name, stream, deltaUsage } of CASES) {
  it(`counts cache reads and writes as prompt tokens of a native ${name}`, async () => {
    fx = await proxyFixture()
    const base = await cachingAnthropic(deltaUsage)
    const account = await addKeyAccount(fx, 'sk-native-cache-0000000000', 'native-1', { baseUrl: `${base}/v1`, anthropicBaseUrl: base })
    const lines: string[] = []
    const app = proxyApp(fx, { lines })
    const res = await app.fetch(messagesRequest({ stream }))
    expect(res.status).toBe(200)
    await res.text()
    await app.close()
    const stats = (await readAllStats(fx.ctx))[account.id]
    expect(stats?.promptTokens).toBe(4312)
    expect(stats?.completionTokens).toBe(7)
    expect(lines.join('\n')).toContain('4312+7 tokens')
  })
}
