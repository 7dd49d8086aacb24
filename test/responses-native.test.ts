/**
 * A DashScope pay-as-you-go account serves the Responses API itself: requests go to its
 * `/responses` as they are (model renamed, conversation spelled out), answers come back with
 * qwenauth's ids, and one request fails over between the native and the translated way.
 */
import OpenAI, { type APIError } from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { addDashScopeAccount, sdkFor, sseEvents, upstreamCalls } from './helpers/responses.ts'

const KEY = 'sk-dashscope-0123456789'
const weather = { type: 'function' as const, name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { location: { type: 'string' } } }, strict: false }

let fx: ProxyFixture
let lines: string[]
afterEach(() => fx.cleanup())

async function fixture(order: 'native-first' | 'oauth-first'): Promise<OpenAI> {
  fx = await proxyFixture()
  await loginAs(fx, 'oauth@example.com')
  await addDashScopeAccount(fx, KEY, order === 'native-first' ? 'first' : 'last')
  lines = []
  return sdkFor(proxyApp(fx, { lines }))
}

describe('native forwarding', () => {
  it('sends the request to the account’s /responses with its model name, and answers with qwenauth’s ids', async () => {
    const client = await fixture('native-first')
    const response = await client.responses.create({ model: 'coder-model', input: 'hello', store: true })
    expect(response.output_text).toBe('Hello from DashScope Responses (qwen3-coder-plus)')
    expect(response.id).toMatch(/^resp_[0-9a-f]{24}$/)
    expect(response.output[0]?.id).toBe(`msg_${response.id.slice(5)}_0`)
    expect(upstreamCalls(fx)).toEqual([{ path: '/v1/responses', body: { model: 'qwen3-coder-plus', input: [{ type: 'message', role: 'user', content: 'hello' }], store: true } }])
    expect(lines[0]).toMatch(/^POST \/v1\/responses dashscope 200 \d+ms \d+\+\d+ tokens$/)
  })

  it('passes the native stream on event by event, ids renamed, and the SDK accumulates it', async () => {
    const client = await fixture('native-first')
    fx.emu.queueReplies({ text: 'Let me look.', toolCalls: [{ name: 'get_weather', arguments: { location: 'Oslo' }, id: 'call_n1' }] })
    const stream = client.responses.stream({ model: 'coder-model', input: 'weather?', tools: [weather] })
    const events: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const event of stream) events.push(event)
    const final = await stream.finalResponse()
    expect(final.output.map((item) => [item.type, item.id])).toEqual([
      ['message', `msg_${final.id.slice(5)}_0`],
      ['function_call', `fc_${final.id.slice(5)}_1`],
    ])
    expect(final.output[1]).toMatchObject({ call_id: 'call_n1', arguments: '{"location":"Oslo"}' })
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    expect(events.filter((e) => 'item_id' in e).every((e) => (e as { item_id: string }).item_id.includes(final.id.slice(5)))).toBe(true)
    expect(upstreamCalls(fx)[0]?.body.tools).toEqual([weather])
  })

  it('translates for a native account what only OpenAI serves (a freeform tool), to that account’s chat completions', async () => {
    const client = await fixture('native-first')
    fx.emu.queueReplies({ toolCalls: [{ name: 'apply_patch', arguments: { input: '*** Begin Patch\n*** End Patch\n' } }] })
    const response = await client.responses.create({ model: 'coder-model', input: 'patch', tools: [{ type: 'custom', name: 'apply_patch' }] })
    expect(response.output[0]).toMatchObject({ type: 'custom_tool_call', input: '*** Begin Patch\n*** End Patch\n' })
    expect(upstreamCalls(fx).map((c) => [c.path, c.body.model])).toEqual([['/v1/chat/completions', 'qwen3-coder-plus']])
  })

  it('ends a native stream the upstream broke with response.failed under qwenauth’s response id', async () => {
    await fixture('native-first')
    fx.emu.breakNextStream(4)
    const res = await proxyApp(fx).fetch(new Request('http://127.0.0.1:8787/v1/responses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'coder-model', input: 'hi', stream: true }) }))
    const events = sseEvents(await res.text())
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.failed'])
    expect(events.at(-1)?.data).toMatchObject({ sequence_number: 4, response: { id: events[0]?.data.response.id, status: 'failed', error: { code: 'server_error' } } })
  })

  it('refuses background before any upstream work, as DashScope would', async () => {
    const client = await fixture('native-first')
    await expect(client.responses.create({ model: 'coder-model', input: 'x', background: true })).rejects.toBeInstanceOf(OpenAI.BadRequestError)
    expect(fx.emu.requests).toHaveLength(0)
  })
})

describe('failover between the native and the translated way, within one request', () => {
  it('native fails with a 5xx: the same request is translated for the next account', async () => {
    const client = await fixture('native-first')
    fx.emu.failNextRequests(1, 500)
    const response = await client.responses.create({ model: 'coder-model', input: 'hi' })
    expect(response.output_text).toBe('Hello from the Qwen emulator (coder-model)')
    expect(upstreamCalls(fx).map((c) => c.path)).toEqual(['/v1/responses', '/v1/chat/completions'])
    expect(lines[0]).toMatch(/oauth@example\.com 200 .*failed over from dashscope: upstream error 500/)
  })

  it('a translated account out of quota: the same streamed request goes native to the next', async () => {
    const client = await fixture('oauth-first')
    fx.emu.setUserState('oauth@example.com', 'quota')
    const stream = client.responses.stream({ model: 'coder-model', input: 'hi' })
    const final = await stream.finalResponse()
    expect(final.output_text).toBe('Hello from DashScope Responses (qwen3-coder-plus)')
    expect(upstreamCalls(fx).map((c) => c.path)).toEqual(['/v1/chat/completions', '/v1/responses'])
  })

  it('a conversation answered natively goes on, translated, on another account', async () => {
    const client = await fixture('native-first')
    fx.emu.queueReplies({ text: 'Native says hi.' }, { text: 'Translated goes on.' })
    const first = await client.responses.create({ model: 'coder-model', input: 'hi' })
    fx.emu.setApiKeyState(KEY, 'quota')
    const second = await client.responses.create({ model: 'coder-model', previous_response_id: first.id, input: 'and?' })
    expect(second.output_text).toBe('Translated goes on.')
    const chat = upstreamCalls(fx).at(-1)
    expect(chat?.path).toBe('/v1/chat/completions')
    expect(chat?.body.messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Native says hi.' },
      { role: 'user', content: 'and?' },
    ])
  })
})
