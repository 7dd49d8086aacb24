import Anthropic from '@anthropic-ai/sdk'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ProxyApp } from '../src/proxy/app.ts'
import { anthropicClient, messagesRequest, sseEvents } from './helpers/anthropic-fixtures.ts'
import { loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

// The official SDK against a Qwen OAuth account, whose API speaks only chat completions: every
// request is translated to a chat completion and every answer back to an Anthropic message.

const weather: Anthropic.Tool = { name: 'get_weather', description: 'Weather in a city', input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } }
const clock: Anthropic.Tool = { name: 'get_time', input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: {} } as Anthropic.Tool.InputSchema }
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

let fx: ProxyFixture
let app: ProxyApp
let client: Anthropic

beforeEach(async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'claude@example.com')
  app = proxyApp(fx)
  client = anthropicClient(app)
})
afterEach(async () => {
  await fx.cleanup()
})

/** The chat request the emulator received last. */
const lastChat = () => fx.emu.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)?.body as any

describe('Anthropic Messages on a translated account', () => {
  it('answers a plain request, the claude-* name mapped to the account default, metadata.user_id as user', async () => {
    const answer = await client.messages.create({
      model: 'claude-opus-5-5',
      max_tokens: 128_000,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      metadata: { user_id: '{"device_id":"d1"}' },
      messages: [{ role: 'user', content: 'hello' }],
    }, { timeout: 30_000 })
    expect(answer).toMatchObject({ type: 'message', role: 'assistant', model: 'coder-model', stop_reason: 'end_turn', stop_sequence: null })
    expect(answer.content).toEqual([{ type: 'text', text: 'Hello from the Qwen emulator (coder-model)' }])
    expect(answer.usage.input_tokens).toBeGreaterThan(0)
    expect(answer.usage.output_tokens).toBeGreaterThan(0)
    expect(answer.id).toMatch(/^msg_chatcmpl-/)
    const sent = lastChat()
    expect(sent).toEqual({ model: 'coder-model', max_tokens: 65_536, user: '{"device_id":"d1"}', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }] })
  })

  it('streams the exact event sequence, and the SDK assembles the same message', async () => {
    const response = await app.fetch(messagesRequest({ stream: true }, { 'x-api-key': 'any' }))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const events = sseEvents(await response.text())
    expect(events.map(([type]) => type)).toEqual([
      'message_start',
      'content_block_start',
      ...Array(5).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
    for (const [type, data] of events) expect(data.type).toBe(type)
    expect(events[1]?.[1]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
    expect(events.slice(2, 7).map(([, d]) => d.delta.text).join('')).toBe('Hello from the Qwen emulator (coder-model)')
    const delta = events.at(-2)?.[1]
    expect(delta.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null })
    expect(delta.usage.input_tokens).toBeGreaterThan(0)
    expect(delta.usage.output_tokens).toBeGreaterThan(0)
    expect(lastChat().stream_options).toEqual({ include_usage: true })

    const final = await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage()
    expect(final.content).toEqual([{ type: 'text', text: 'Hello from the Qwen emulator (coder-model)' }])
    expect(final.usage.input_tokens).toBe(delta.usage.input_tokens)
  })

  it('makes a tool round trip: two calls in one turn, results in another order (one an error), then text', async () => {
    fx.emu.queueReplies(
      { text: 'Let me look.', toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris' }, id: 'call_w' }, { name: 'get_time', arguments: {}, id: 'call_t' }] },
      { text: 'Sunny, and it is noon.' },
    )
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'weather and time in Paris?' }]
    const first = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 1000, tools: [weather, clock], tool_choice: { type: 'any' }, messages })
    expect(first.stop_reason).toBe('tool_use')
    expect(first.content).toEqual([
      { type: 'text', text: 'Let me look.' },
      { type: 'tool_use', id: 'call_w', name: 'get_weather', input: { location: 'Paris' } },
      { type: 'tool_use', id: 'call_t', name: 'get_time', input: {} },
    ])
    const sent = lastChat()
    expect(sent.tool_choice).toBe('required')
    expect(sent.tools[1]).toEqual({ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } })

    messages.push({ role: 'assistant', content: first.content })
    messages.push({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'call_t', content: [{ type: 'text', text: 'clock broken' }], is_error: true },
        { type: 'tool_result', tool_use_id: 'call_w', content: 'sunny' },
        { type: 'text', text: 'and be quick' },
      ],
    })
    const second = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 1000, tools: [weather, clock], messages })
    expect(second.content).toEqual([{ type: 'text', text: 'Sunny, and it is noon.' }])
    expect(second.stop_reason).toBe('end_turn')
    expect(lastChat().messages.slice(1)).toEqual([
      { role: 'assistant', content: 'Let me look.', tool_calls: [
        { id: 'call_w', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
        { id: 'call_t', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ] },
      { role: 'tool', tool_call_id: 'call_t', content: 'Error: clock broken' },
      { role: 'tool', tool_call_id: 'call_w', content: 'sunny' },
      { role: 'user', content: 'and be quick' },
    ])
  })

  it('streams a tool call as input_json_delta', async () => {
    fx.emu.queueReplies({ toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris' }, id: 'call_s' }] })
    const stream = client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 1000, tools: [weather], messages: [{ role: 'user', content: 'weather?' }] })
    const types: string[] = []
    const pieces: string[] = []
    for await (const event of stream) {
      types.push(event.type === 'content_block_delta' ? event.delta.type : event.type)
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') pieces.push(event.delta.partial_json)
    }
    expect(types).toEqual(['message_start', 'content_block_start', 'input_json_delta', 'input_json_delta', 'content_block_stop', 'message_delta', 'message_stop'])
    expect(pieces.join('')).toBe('{"location":"Paris"}')
    const final = await stream.finalMessage()
    expect(final.content).toEqual([{ type: 'tool_use', id: 'call_s', name: 'get_weather', input: { location: 'Paris' } }])
    expect(final.stop_reason).toBe('tool_use')
  })

  it('sends images as image_url parts, base64 as a data URL, URL as it is; a tool result image follows the results', async () => {
    fx.emu.queueReplies({ toolCalls: [{ name: 'get_weather', arguments: { location: 'Oslo' }, id: 'call_i' }] }, { text: 'a dot' })
    await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      tools: [weather],
      messages: [{ role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        { type: 'text', text: 'what is this?' },
      ] }],
    })
    expect(lastChat().messages[0].content).toEqual([
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
      { type: 'text', text: 'what is this?' },
    ])
    const answer = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      tools: [weather],
      messages: [
        { role: 'user', content: 'show me' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_i', name: 'get_weather', input: { location: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_i', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] }] },
      ],
    })
    expect(answer.content).toEqual([{ type: 'text', text: 'a dot' }])
    expect(lastChat().messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'call_i', content: '(an image, attached below)' },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] },
    ])
  })

  it('asks for reasoning with enable_thinking and thinking_budget, streams it as thinking_delta, drops thinking sent back', async () => {
    const stream = client.messages.stream({
      model: 'claude-sonnet-5-5',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'earlier', signature: '' }, { type: 'text', text: 'hello' }] },
        { role: 'user', content: 'think again' },
      ],
    })
    const deltas: string[] = []
    for await (const event of stream) if (event.type === 'content_block_delta') deltas.push(event.delta.type)
    const final = await stream.finalMessage()
    expect(final.content).toEqual([
      { type: 'thinking', thinking: 'Let me think about this.', signature: '' },
      { type: 'text', text: 'Hello from the Qwen emulator (coder-model)' },
    ])
    expect(deltas.slice(0, 3)).toEqual(['thinking_delta', 'thinking_delta', 'thinking_delta'])
    const sent = lastChat()
    expect(sent).toMatchObject({ enable_thinking: true, thinking_budget: 2048 })
    expect(sent.messages[1]).toEqual({ role: 'assistant', content: 'hello' })

    await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, thinking: { type: 'disabled' }, messages: [{ role: 'user', content: 'hi' }] })
    expect(lastChat().enable_thinking).toBe(false)
  })

  it('reports which stop sequence ended the answer, streaming or not', async () => {
    fx.emu.setReply('one two END three STOP four')
    const answer = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, stop_sequences: ['STOP', 'END'], messages: [{ role: 'user', content: 'count' }] })
    expect(answer).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END', content: [{ type: 'text', text: 'one two ' }] })
    expect(lastChat().stop).toBeUndefined()

    const response = await app.fetch(messagesRequest({ stream: true, stop_sequences: ['STOP', 'END'] }))
    const events = sseEvents(await response.text())
    const text = events.filter(([t, d]) => t === 'content_block_delta' && d.delta.type === 'text_delta').map(([, d]) => d.delta.text).join('')
    expect(text).toBe('one two ')
    expect(events.at(-2)?.[1].delta).toEqual({ stop_reason: 'stop_sequence', stop_sequence: 'END' })
    expect(events.at(-1)?.[0]).toBe('message_stop')
  })

  it('reports cached prompt tokens as cache_read_input_tokens, apart from input_tokens', async () => {
    fx.emu.queueReplies({ text: 'cached', cachedTokens: 3 })
    const answer = await client.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'a longer question with some words in it' }] })
    expect(answer.usage.cache_read_input_tokens).toBe(3)
    expect(answer.usage.cache_creation_input_tokens).toBe(0)
    expect(answer.usage.input_tokens).toBeGreaterThan(0)
  })

  it("ignores what has no counterpart: Claude Code's system turn, context_management, output_config, cache_control, betas", async () => {
    const response = await app.fetch(
      messagesRequest(
        {
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'say hi' }] },
            { role: 'system', content: [{ type: 'text', text: '# Environment', cache_control: { type: 'ephemeral' } }], output_config: { effort: 'medium' } },
          ],
          context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
          output_config: { effort: 'medium' },
          thinking: { type: 'adaptive', display: 'omitted' },
          tools: [{ name: 'Later', description: 'deferred', input_schema: { type: 'object' }, defer_loading: true }, { type: 'web_search_20250305', name: 'web_search' }],
        },
        { 'anthropic-beta': 'claude-code-20250219,some-future-beta-2099-01-01' },
        '/v1/messages?beta=true',
      ),
    )
    expect(response.status).toBe(200)
    const sent = lastChat()
    expect(sent.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'say hi' }, { type: 'text', text: '<system-reminder>\n# Environment\n</system-reminder>' }] }])
    expect(sent.tools).toBeUndefined()
    expect(sent.enable_thinking).toBeUndefined()
  })

  it('sends a ping while the upstream is silent mid-stream', async () => {
    const pinging = proxyApp(fx, { keepAliveMs: 30 })
    fx.emu.setStreamDelay(120)
    const response = await pinging.fetch(messagesRequest({ stream: true }))
    const types = sseEvents(await response.text()).map(([type]) => type)
    expect(types[0]).toBe('message_start')
    expect(types).toContain('ping')
    expect(types.at(-1)).toBe('message_stop')
  })
})
