import { afterEach, describe, expect, it } from 'vitest'
import { reasoningSwitchOf } from '../src/auth/api-key/providers.ts'
import { reasoningFields, toChatRequest } from '../src/proxy/protocols/anthropic/request.ts'
import { AnthropicStreamTranslator } from '../src/proxy/protocols/anthropic/stream.ts'
import { messagesRequest, sseEvents } from './helpers/anthropic-fixtures.ts'
import { loginAs, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

// The translation's decisions one by one: what a chat request gets, and what each chunk becomes.

const use = (id: string, name = 'f') => ({ type: 'tool_use', id, name, input: { a: 1 } })
const result = (id: string, content: unknown = 'ok') => ({ type: 'tool_result', tool_use_id: id, content })

describe('Anthropic request → chat request', () => {
  it.each<[string, Record<string, unknown>, unknown[]]>([
    ['system blocks joined into one system message', { system: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], messages: [{ role: 'user', content: 'hi' }] }, [{ role: 'system', content: 'a\nb' }, { role: 'user', content: 'hi' }]],
    ['a call without a result gets an empty one; a result without its call becomes text', { messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [use('t1'), use('t2')] },
      { role: 'user', content: [result('t2'), result('t9', [{ type: 'text', text: 'late' }])] },
    ] }, [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }, { id: 't2', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 't2', content: 'ok' },
      { role: 'tool', tool_call_id: 't1', content: '(no result)' },
      { role: 'user', content: '[result of tool call t9]\nlate' },
    ]],
    ['a system turn between calls and results waits for the results', { messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [use('t1')] },
      { role: 'system', content: 'mind the time' },
      { role: 'user', content: [result('t1')] },
    ] }, [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'ok' },
      { role: 'system', content: 'mind the time' },
    ]],
    ['tool_reference results and documents become text', { messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: [use('s1', 'ToolSearch')] },
      { role: 'user', content: [result('s1', [{ type: 'tool_reference', tool_name: 'WebFetch' }]), { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc text' } }] },
    ] }, [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [{ id: 's1', type: 'function', function: { name: 'ToolSearch', arguments: '{"a":1}' } }] },
      { role: 'tool', tool_call_id: 's1', content: 'Tool WebFetch loaded.' },
      { role: 'user', content: 'doc text' },
    ]],
  ])('%s', (_name, request, messages) => {
    expect(toChatRequest(request).body.messages).toEqual(messages)
  })

  it('offers client tools and deferred tools a search loaded; maps tool_choice, parallel use, sampling', () => {
    const { body } = toChatRequest({
      messages: [{ role: 'user', content: [result('x', [{ type: 'tool_reference', tool_name: 'Loaded' }])] }],
      tools: [
        { name: 'Bash', input_schema: { type: 'object' } },
        { name: 'Loaded', input_schema: { type: 'object' }, defer_loading: true },
        { name: 'Hidden', input_schema: { type: 'object' }, defer_loading: true },
        { type: 'web_search_20250305', name: 'web_search' },
      ],
      tool_choice: { type: 'tool', name: 'Bash', disable_parallel_tool_use: true },
      temperature: 0.2,
      top_p: 0.9,
      top_k: 5,
    })
    expect((body.tools as any[]).map((t) => t.function.name)).toEqual(['Bash', 'Loaded'])
    expect(body).toMatchObject({ tool_choice: { type: 'function', function: { name: 'Bash' } }, parallel_tool_calls: false, temperature: 0.2, top_p: 0.9 })
    expect(body.top_k).toBeUndefined()
    expect(toChatRequest({ messages: [], tools: [{ name: 'a', input_schema: {} }], tool_choice: { type: 'none' } }).body.tool_choice).toBe('none')
  })

  it("asks for reasoning in the provider's own words", () => {
    expect(reasoningFields({ enabled: true, budget: 2048 }, 'reasoning')).toEqual({ reasoning: { max_tokens: 2048 } })
    expect(reasoningFields({ enabled: false }, 'reasoning')).toEqual({ reasoning: { enabled: false } })
    expect(reasoningFields({ enabled: true }, 'enable_thinking')).toEqual({ enable_thinking: true })
    expect(toChatRequest({ messages: [], thinking: { type: 'adaptive' } }).thinking).toBeUndefined()
  })

  it.each([
    ['qwen-oauth', 'enable_thinking'],
    ['coding-plan', 'enable_thinking'],
    ['token-plan', 'enable_thinking'],
    ['dashscope-intl', 'enable_thinking'],
    ['modelscope', 'enable_thinking'],
    ['openrouter', 'reasoning'],
    ['custom', undefined],
  ] as const)('%s switches reasoning with %s (one table for the Anthropic and Responses translations)', (provider, style) => {
    expect(reasoningSwitchOf(provider)).toBe(style)
    if (!style) expect(reasoningFields({ enabled: true, budget: 1024 }, reasoningSwitchOf(provider))).toEqual({})
  })
})

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'c1', model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })

describe('chat chunks → Anthropic events', () => {
  it('finds a stop sequence split across chunks and sends nothing after it', () => {
    const t = new AnthropicStreamTranslator(['STOP'])
    const out = [t.event(chunk({ content: 'one ST' })), t.event(chunk({ content: 'OP two' }))].join('')
    const events = sseEvents(out)
    expect(events.filter(([type]) => type === 'content_block_delta').map(([, d]) => d.delta.text).join('')).toBe('one ')
    expect(events.at(-2)?.[1].delta).toEqual({ stop_reason: 'stop_sequence', stop_sequence: 'STOP' })
    expect(t.finished()).toBe(true)
    expect(t.event(chunk({ content: 'more' }))).toBe('')
  })

  it('releases text held for a stop sequence that never came, and makes an empty answer one empty text block', () => {
    const t = new AnthropicStreamTranslator(['STOP'])
    const text = sseEvents(t.event(chunk({ content: 'ST' })) + t.event(chunk({}, 'stop')) + t.event('[DONE]'))
    expect(text.filter(([type]) => type === 'content_block_delta').map(([, d]) => d.delta.text).join('')).toBe('ST')
    const empty = new AnthropicStreamTranslator([])
    expect(sseEvents(empty.event(chunk({ role: 'assistant', content: '' })) + empty.event(chunk({}, 'stop')) + empty.end()).map(([type]) => type)).toEqual(['message_start', 'content_block_start', 'content_block_stop', 'message_delta', 'message_stop'])
    // The same stream without a finish reason may be cut: an error, not a whole (empty) message.
    const cut = new AnthropicStreamTranslator([])
    expect(sseEvents(cut.event(chunk({ role: 'assistant', content: '' })) + cut.end()).map(([type]) => type)).toEqual(['message_start', 'error'])
  })

  it("gives a tool call id Anthropic's API would refuse a valid one", () => {
    const t = new AnthropicStreamTranslator([])
    const start = sseEvents(t.event(chunk({ tool_calls: [{ index: 0, id: 'functions.Bash:0', function: { name: 'Bash', arguments: '{}' } }] }))).find(([type]) => type === 'content_block_start')
    expect(start?.[1].content_block.id).toBe('functions_Bash_0')
  })

  it('turns reasoning, text and two tool calls into blocks in order, and usage into the final message_delta', () => {
    const t = new AnthropicStreamTranslator([])
    const out = [
      t.event(chunk({ reasoning: 'hmm' })),
      t.event(chunk({ content: 'ok' })),
      t.event(chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'x', arguments: '{"q":' } }] })),
      t.event(chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'y', arguments: '{}' } }] })),
      t.event(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] })),
      t.event(chunk({}, 'stop')),
      t.event(JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 10, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 6 } } })),
      t.event('[DONE]'),
    ].join('')
    const events = sseEvents(out)
    expect(events.filter(([type]) => type === 'content_block_start').map(([, d]) => [d.index, d.content_block.type])).toEqual([[0, 'thinking'], [1, 'text'], [2, 'tool_use'], [3, 'tool_use']])
    expect(events.filter(([, d]) => d.delta?.type === 'input_json_delta').map(([, d]) => [d.index, d.delta.partial_json])).toEqual([[2, '{"q":'], [3, '{}'], [2, '1}']])
    expect(events.at(-2)?.[1]).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 4, output_tokens: 4, cache_read_input_tokens: 6 } })
  })
})

describe('a stream cut at a stop sequence', () => {
  let fx: ProxyFixture | undefined
  afterEach(async () => {
    await fx?.cleanup()
  })

  it('ends for the client at once and cancels the upstream request', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'stop@example.com')
    fx.emu.setReply('alpha STOP beta gamma delta epsilon zeta eta theta iota')
    fx.emu.setStreamDelay(200)
    const response = await proxyApp(fx).fetch(messagesRequest({ stream: true, stop_sequences: ['STOP'] }))
    const events = sseEvents(await response.text())
    expect(events.at(-1)?.[0]).toBe('message_stop')
    await waitFor(() => fx!.emu.abortedRequests === 1, 3000, 'the upstream request to be cancelled')
  })
})
