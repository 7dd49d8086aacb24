import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { qwenTokenCounter } from '../src/proxy/protocols/anthropic/tokenizer.ts'
import { anthropicClient } from './helpers/anthropic-fixtures.ts'
import { proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

// count_tokens is answered by qwenauth itself with a Qwen token estimate; the reference counts
// below are Qwen3's own tokenizer's (tokenizer.json of Qwen3, counted once offline).

let fx: ProxyFixture
beforeEach(async () => {
  fx = await proxyFixture()
})
afterEach(async () => {
  await fx.cleanup()
})

describe('the Qwen token estimate', () => {
  it.each<[string, number]>([
    ['Hello world', 2],
    ['The quick brown fox jumps over the lazy dog; then it runs 1234 metres.', 20],
    ['function add(a: number, b: number): number {\n  return a + b\n}\n', 19],
  ])('counts English, digits and code as Qwen3 does: %j', async (text, qwen3) => {
    expect((await qwenTokenCounter())(text)).toBe(qwen3)
  })

  it('counts Chinese and emoji high rather than low', async () => {
    const count = await qwenTokenCounter()
    expect(count('你好，世界！今天天气很好。')).toBeGreaterThanOrEqual(8)
    expect(count('Café naïve 😀')).toBeGreaterThanOrEqual(6)
  })
})

describe('POST /v1/messages/count_tokens', () => {
  it('answers without any account or upstream request, the chat template included', async () => {
    const client = anthropicClient(proxyApp(fx))
    const counted = await client.messages.countTokens({ model: 'claude-opus-5-5', system: 'You are helpful.', messages: [{ role: 'user', content: 'Hello world' }] })
    // Qwen3's template around these two messages is 19 tokens with its own tokenizer.
    expect(counted.input_tokens).toBe(19)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('counts tools, tool calls and results, and images; grows with the text', async () => {
    const client = anthropicClient(proxyApp(fx))
    const base = { model: 'claude-opus-5-5', messages: [{ role: 'user' as const, content: 'hi' }] }
    const plain = (await client.messages.countTokens(base)).input_tokens
    const withTool = (await client.messages.countTokens({ ...base, tools: [{ name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }] })).input_tokens
    expect(withTool).toBeGreaterThan(plain + 50)
    const image = (await client.messages.countTokens({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }] }] })).input_tokens
    expect(image).toBeGreaterThanOrEqual(1280)
    const big = (await client.messages.countTokens({ ...base, messages: [{ role: 'user', content: 'word '.repeat(20_000) }] })).input_tokens
    expect(big).toBeGreaterThan(19_000)
    expect(big).toBeLessThan(21_000)
    const round = await client.messages.countTokens({
      ...base,
      messages: [
        { role: 'user', content: 'list files' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'a.txt\nb.txt' }] },
      ],
    })
    expect(round.input_tokens).toBeGreaterThan(plain)
  })

  it('refuses a body without messages in Anthropic shape', async () => {
    const response = await proxyApp(fx).fetch(new Request('http://127.0.0.1:8787/v1/messages/count_tokens?beta=true', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' }))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
  })
})
