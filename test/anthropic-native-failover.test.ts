import Anthropic from '@anthropic-ai/sdk'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ProxyApp } from '../src/proxy/app.ts'
import { addNativeAccount, anthropicClient, messagesRequest, sseEvents } from './helpers/anthropic-fixtures.ts'
import { addKeyAccount, loginAs, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

// Accounts whose provider serves the Anthropic API get the request as the client sent it; the
// others get it translated; one failover runs across both kinds.

const NATIVE_KEY = 'sk-native-0123456789'
const tool: Anthropic.Tool = { name: 'get_weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }

let fx: ProxyFixture
let app: ProxyApp
let client: Anthropic

beforeEach(async () => {
  fx = await proxyFixture()
})
afterEach(async () => {
  await fx.cleanup()
})

const anthropicRequests = () => fx.emu.requests.filter((r) => r.path === '/apps/anthropic/v1/messages')
const chatRequests = () => fx.emu.requests.filter((r) => r.path === '/v1/chat/completions')

describe('a native account', () => {
  beforeEach(async () => {
    await addNativeAccount(fx, NATIVE_KEY)
    app = proxyApp(fx)
    client = anthropicClient(app)
  })

  it('gets the request as sent: cache_control, betas, its key as x-api-key, the model renamed and max_tokens capped', async () => {
    const response = await app.fetch(
      messagesRequest(
        {
          model: 'claude-opus-5-5',
          max_tokens: 128_000,
          system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
          messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }],
          context_management: { edits: [] },
        },
        { 'anthropic-beta': 'claude-code-20250219', 'x-api-key': 'client-key-not-forwarded' },
        '/v1/messages?beta=true',
      ),
    )
    expect(response.status).toBe(200)
    const answer = await response.json()
    expect(answer).toMatchObject({ type: 'message', model: 'coder-model', content: [{ type: 'text', text: 'Hello from the Qwen emulator (coder-model)' }] })
    const [sent] = anthropicRequests()
    expect(sent?.headers).toMatchObject({ 'x-api-key': NATIVE_KEY, authorization: `Bearer ${NATIVE_KEY}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219' })
    expect(sent?.body).toEqual({
      model: 'coder-model',
      max_tokens: 65_536,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }],
      context_management: { edits: [] },
    })
    expect(chatRequests()).toHaveLength(0)
  })

  it('streams the upstream events through, and keeps thinking signatures across a tool round trip', async () => {
    fx.emu.queueReplies({ reasoning: 'plan', toolCalls: [{ name: 'get_weather', arguments: { location: 'Rome' }, id: 'toolu_r1' }] }, { text: 'Warm.' })
    const stream = client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 2000, tools: [tool], messages: [{ role: 'user', content: 'Rome?' }] })
    const types: string[] = []
    for await (const event of stream) types.push(event.type === 'content_block_delta' ? event.delta.type : event.type)
    expect(types).toEqual([
      'message_start',
      'content_block_start', 'thinking_delta', 'signature_delta', 'content_block_stop',
      'content_block_start', 'input_json_delta', 'input_json_delta', 'input_json_delta', 'content_block_stop',
      'message_delta', 'message_stop',
    ])
    const first = await stream.finalMessage()
    const thinking = first.content[0] as Anthropic.ThinkingBlock
    expect(thinking.signature).toMatch(/^emu-sig-/)
    const answer = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 2000,
      tools: [tool],
      messages: [
        { role: 'user', content: 'Rome?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_r1', content: 'warm' }] },
      ],
    })
    expect(answer.content).toEqual([{ type: 'text', text: 'Warm.' }])
    expect((anthropicRequests().at(-1)?.body as any).messages[1].content[0]).toEqual({ type: 'thinking', thinking: 'plan', signature: thinking.signature })
  })

  it('passes images and tool results with images through unchanged', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
    const image = { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: png } }
    fx.emu.queueReplies({ text: 'a dot' })
    const answer = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 100,
      tools: [tool],
      messages: [
        { role: 'user', content: [image, { type: 'text', text: 'and this?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_img', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_img', content: [image] }] },
      ],
    })
    expect(answer.content).toEqual([{ type: 'text', text: 'a dot' }])
    const sent = anthropicRequests().at(-1)?.body as any
    expect(sent.messages[0].content[0]).toEqual(image)
    expect(sent.messages[2].content[0].content).toEqual([image])
  })

  it("passes the upstream's own refusal through word for word (Claude Code acts on the wording)", async () => {
    const response = await app.fetch(messagesRequest({ messages: [{ role: 'user', content: 'a' }, { role: 'system', content: 'env' }] }))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: "messages.1.role: Input should be 'user' or 'assistant'" } })
  })
})

describe('failover between native and translated accounts', () => {
  it('moves a request from a native account out of quota to a translated one, and marks the native one', async () => {
    await addNativeAccount(fx, NATIVE_KEY)
    await addKeyAccount(fx, 'sk-chat-key')
    fx.emu.setApiKeyState(NATIVE_KEY, 'quota')
    app = proxyApp(fx)
    const answer = await anthropicClient(app).messages.create({ model: 'claude-sonnet-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
    expect(answer.content).toEqual([{ type: 'text', text: 'Hello from the Qwen emulator (coder-model)' }])
    expect(anthropicRequests()).toHaveLength(1)
    expect(chatRequests()).toHaveLength(1)
    await waitFor(async () => (await fx.ctx.accounts.read()).accounts.find((a) => a.id === 'native-1')?.status === 'cooling-down', 3000, 'the cooldown mark')
  })

  it('moves a streamed request from a translated account that fails before its first byte to a native one', async () => {
    await loginAs(fx, 'oauth@example.com')
    await addNativeAccount(fx, NATIVE_KEY)
    fx.emu.failNextRequests(1, 503)
    app = proxyApp(fx)
    const response = await app.fetch(messagesRequest({ stream: true }))
    const events = sseEvents(await response.text())
    expect(events[0]?.[0]).toBe('message_start')
    expect(events.at(-1)?.[0]).toBe('message_stop')
    expect(chatRequests()).toHaveLength(1)
    expect(anthropicRequests()).toHaveLength(1)
  })

  it('ends a stream the upstream breaks after it started with an Anthropic error event', async () => {
    await loginAs(fx, 'oauth@example.com')
    fx.emu.breakNextStream(3)
    app = proxyApp(fx)
    const response = await app.fetch(messagesRequest({ stream: true }))
    const events = sseEvents(await response.text())
    expect(events[0]?.[0]).toBe('message_start')
    const [type, data] = events.at(-1) ?? []
    expect(type).toBe('error')
    expect(data.error.type).toBe('api_error')
    expect(data.error.message).toMatch(/broke after it started/)
  })
})
