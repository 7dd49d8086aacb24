import OpenAI from 'openai'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startProxyServer, type ProxyServer } from '../src/proxy/server.ts'
import { readStats } from '../src/store/stats.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const KEY = 'sk-serve-test-0123456789'
const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
}

let fx: ProxyFixture
let server: ProxyServer
let client: OpenAI
let lines: string[]

beforeEach(async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'sdk@example.com')
  lines = []
  server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [KEY], log: (l) => lines.push(l) })
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 })
})
afterEach(async () => {
  await server.close()
  await fx.cleanup()
})

describe('the openai SDK through serve', () => {
  it('gets a non-streaming chat completion with usage, and the request is logged', async () => {
    const answer = await client.chat.completions.create({ model: 'coder-model', messages: [{ role: 'user', content: 'hello' }] })
    expect(answer.choices[0]?.message.content).toBe('Hello from the Qwen emulator (coder-model)')
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0)
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^POST \/v1\/chat\/completions sdk@example\.com 200 \d+ms \d+\+\d+ tokens$/)
  })

  it('streams chunk by chunk, usage chunk included, and counts the tokens', async () => {
    const stream = await client.chat.completions.create({
      model: 'coder-model',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let chunks = 0
    let usage: OpenAI.CompletionUsage | undefined | null
    for await (const chunk of stream) {
      chunks++
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.usage) usage = chunk.usage
    }
    expect(text).toBe('Hello from the Qwen emulator (coder-model)')
    expect(chunks).toBeGreaterThanOrEqual(7)
    expect(usage?.total_tokens).toBeGreaterThan(0)
    await server.close()
    const stats = Object.values(await readStats(fx.ctx.storage))
    expect(stats).toHaveLength(1)
    expect(stats[0]).toMatchObject({ requests: 1, failures: 0, promptTokens: usage?.prompt_tokens, completionTokens: usage?.completion_tokens })
  })

  it('passes tool calls through, non-streaming and streaming', async () => {
    const messages = [{ role: 'user' as const, content: 'weather in Paris?' }]
    const answer = await client.chat.completions.create({ model: 'coder-model', messages, tools: [weatherTool] })
    const call = answer.choices[0]?.message.tool_calls?.[0]
    expect(answer.choices[0]?.finish_reason).toBe('tool_calls')
    expect(call?.type === 'function' && call.function.name).toBe('get_weather')
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Paris' })

    const stream = await client.chat.completions.create({ model: 'coder-model', messages, tools: [weatherTool], stream: true })
    let name = ''
    let args = ''
    let finish: string | null | undefined
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += delta.function?.name ?? ''
        args += delta.function?.arguments ?? ''
      }
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(name).toBe('get_weather')
    expect(JSON.parse(args)).toEqual({ location: 'Paris' })
    expect(finish).toBe('tool_calls')
  })

  it('lists models and passes completions and embeddings through', async () => {
    const models = await client.models.list()
    expect(models.data.map((m) => m.id)).toContain('coder-model')
    const completion = await client.completions.create({ model: 'coder-model', prompt: 'say hi' })
    expect(completion.choices[0]?.text).toContain('Hello from the Qwen emulator')
    const embedding = await client.embeddings.create({ model: 'text-embedding-v3', input: ['a', 'b'] })
    expect(embedding.data).toHaveLength(2)
    const sent = fx.emu.requests.find((r) => r.path === '/v1/embeddings')
    expect(sent?.body).toEqual({ model: 'text-embedding-v3', input: ['a', 'b'], encoding_format: 'base64' })
  })

  it('refuses the SDK without the right key, in OpenAI shape', async () => {
    const stranger = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong-key-000000', maxRetries: 0 })
    const error = await stranger.models.list().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key')
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('shows a mid-stream upstream failure to the SDK as an error after the events it got', async () => {
    fx.emu.breakNextStream(3)
    const stream = await client.chat.completions.create({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }], stream: true })
    let text = ''
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    })().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect((error as Error).message).toMatch(/broke after it started.*retry the request/)
    expect(text.length).toBeGreaterThan(0)
    expect(text).not.toBe('Hello from the Qwen emulator (coder-model)')
    expect(fx.emu.requests).toHaveLength(1)
  })
})
