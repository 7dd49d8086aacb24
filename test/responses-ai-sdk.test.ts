/**
 * The Vercel AI SDK's default OpenAI provider (`@ai-sdk/openai`, which calls /v1/responses)
 * through the proxy: generateText, streamText with non-empty text, and a tool loop whose
 * second step refers to the first answer by `item_reference`.
 */
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, stepCountIs, streamText, tool } from 'ai'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { ProxyApp } from '../src/proxy/app.ts'
import { loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { upstreamCalls } from './helpers/responses.ts'

let fx: ProxyFixture
let app: ProxyApp
/** The bodies the SDK sent to the proxy. */
let sent: any[]

beforeEach(async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'vercel@example.com')
  app = proxyApp(fx)
  sent = []
})
afterEach(() => fx.cleanup())

function model() {
  const openai = createOpenAI({
    baseURL: 'http://127.0.0.1:8787/v1',
    apiKey: 'unused',
    fetch: async (url, init) => {
      sent.push(JSON.parse(String(init?.body)))
      return app.fetch(new Request(url as string, init as RequestInit))
    },
  })
  return openai('coder-model')
}

const weather = tool({
  description: 'Get the weather for a city',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, tempC: 21 }),
})

describe('the AI SDK through the Responses route', () => {
  it('generateText gets the text and usage (a request without `stream` is answered as JSON)', async () => {
    const result = await generateText({ model: model(), prompt: 'say hi', maxRetries: 0 })
    expect(result.text).toBe('Hello from the Qwen emulator (coder-model)')
    expect(result.finishReason).toBe('stop')
    expect(result.usage.outputTokens).toBeGreaterThan(0)
    expect(sent[0]).not.toHaveProperty('stream')
    expect(upstreamCalls(fx)[0]?.body.stream).toBe(false)
  })

  it('streamText streams non-empty text and finishes with stop', async () => {
    const errors: unknown[] = []
    const result = streamText({ model: model(), prompt: 'say hi', maxRetries: 0, onError: ({ error }) => void errors.push(error) })
    let text = ''
    let parts = 0
    for await (const delta of result.textStream) {
      text += delta
      parts++
    }
    expect(errors).toEqual([])
    expect(text).toBe('Hello from the Qwen emulator (coder-model)')
    expect(parts).toBeGreaterThan(1)
    expect(await result.finishReason).toBe('stop')
  })

  it('runs a tool loop: the call, its result, and a second step that names the first answer by item_reference', async () => {
    fx.emu.queueReplies({ text: 'Let me check.', toolCalls: [{ name: 'weather', arguments: { city: 'Paris' }, id: 'call_w' }] }, { text: 'It is 21 °C in Paris.' })
    const result = await generateText({ model: model(), prompt: 'weather in Paris?', tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 })
    expect(result.text).toBe('It is 21 °C in Paris.')
    expect(result.steps.flatMap((s) => s.toolCalls.map((c) => [c.toolName, c.input]))).toEqual([['weather', { city: 'Paris' }]])
    expect(sent[1].input).toContainEqual({ type: 'item_reference', id: expect.stringMatching(/^msg_[0-9a-f]{24}_0$/) })
    const [, second] = upstreamCalls(fx)
    expect(second?.body.messages).toEqual([
      { role: 'user', content: 'weather in Paris?' },
      { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'call_w', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_w', content: '{"city":"Paris","tempC":21}' },
    ])
  })

  it('streamText runs the same loop, streaming', async () => {
    fx.emu.queueReplies({ toolCalls: [{ name: 'weather', arguments: { city: 'Rome' }, id: 'call_r' }] }, { text: 'Rome: 21 °C.' })
    const result = streamText({ model: model(), prompt: 'weather in Rome?', tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 })
    let text = ''
    for await (const delta of result.textStream) text += delta
    expect(text).toBe('Rome: 21 °C.')
    expect((await result.steps).length).toBe(2)
  })
})
