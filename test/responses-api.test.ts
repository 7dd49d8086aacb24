/**
 * The official openai SDK's `responses.create` against the proxy on a translated account (Qwen
 * OAuth, chat completions upstream): plain and streamed answers with the exact event order,
 * function and freeform tool round trips, Codex's namespaced tools, structured output, and
 * errors in OpenAI's shape with the right status.
 */
import OpenAI, { type APIError } from 'openai'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { logger } from '../src/lib/logger.ts'
import { addKeyAccount, loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { sdkFor, sseEvents, upstreamCalls } from './helpers/responses.ts'

let fx: ProxyFixture
let client: OpenAI
let lines: string[]

beforeEach(async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'codex@example.com')
  lines = []
  client = sdkFor(proxyApp(fx, { lines }))
})
afterEach(() => fx.cleanup())

const weather = { type: 'function' as const, name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] }, strict: false }

describe('plain answers', () => {
  it('answers a string input with a completed response, output_text and usage, sent upstream as chat messages', async () => {
    const response = await client.responses.create({ model: 'coder-model', instructions: 'Be brief.', input: 'hello' })
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'coder-model', error: null, incomplete_details: null })
    expect(response.id).toMatch(/^resp_[0-9a-f]{24}$/)
    expect(response.output_text).toBe('Hello from the Qwen emulator (coder-model)')
    expect(response.output).toEqual([
      { type: 'message', id: expect.stringMatching(/^msg_/), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: response.output_text, annotations: [], logprobs: [] }] },
    ])
    expect(response.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number), input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } })
    expect(response.usage?.total_tokens).toBe((response.usage?.input_tokens ?? 0) + (response.usage?.output_tokens ?? 0))
    expect(upstreamCalls(fx)).toEqual([
      { path: '/v1/chat/completions', body: { model: 'coder-model', stream: false, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }] } },
    ])
    expect(lines[0]).toMatch(/^POST \/v1\/responses codex@example\.com 200 \d+ms \d+\+\d+ tokens$/)
  })

  it('maps input messages of every role and content kind, and the sampling and length settings', async () => {
    fx.emu.queueReplies({ text: 'ok', cachedTokens: 3 })
    const response = await client.responses.create({
      model: 'coder-model',
      input: [
        { role: 'developer', content: 'rule one' },
        { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'rule two' }] },
        { role: 'user', content: [{ type: 'input_text', text: 'look:' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'high' }] },
        { role: 'assistant', content: [{ type: 'output_text', text: 'a cat' }] },
        { role: 'user', content: 'thanks' },
      ] as OpenAI.Responses.ResponseInput,
      max_output_tokens: 100_000,
      temperature: 0.2,
      top_p: 0.9,
      user: 'u-1',
      metadata: { run: '1' },
      truncation: 'auto',
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: 'thread-1',
      store: false,
    })
    expect(response.usage?.input_tokens_details.cached_tokens).toBe(3)
    expect(response.metadata).toEqual({ run: '1' })
    expect(upstreamCalls(fx)[0]?.body).toEqual({
      model: 'coder-model',
      stream: false,
      messages: [
        { role: 'system', content: 'rule one\n\nrule two' },
        { role: 'user', content: [{ type: 'text', text: 'look:' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'high' } }] },
        { role: 'assistant', content: 'a cat' },
        { role: 'user', content: 'thanks' },
      ],
      // Capped to coder-model's output limit, as chat requests are.
      max_tokens: 65_536,
      temperature: 0.2,
      top_p: 0.9,
      user: 'u-1',
    })
  })

  it('says incomplete (max_output_tokens) when the upstream stopped for length, and maps reasoning effort to enable_thinking', async () => {
    fx.emu.queueReplies({ text: 'cut sh', finishReason: 'length' })
    const cut = await client.responses.create({ model: 'coder-model', input: 'long story', reasoning: { effort: 'high' } })
    expect(cut.status).toBe('incomplete')
    expect(cut.incomplete_details).toEqual({ reason: 'max_output_tokens' })
    expect(cut.output.map((item) => item.type)).toEqual(['reasoning', 'message'])
    expect(cut.output[0]).toMatchObject({ type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'Let me think about this.' }] })
    expect(upstreamCalls(fx)[0]?.body.enable_thinking).toBe(true)
  })
})

describe('streaming', () => {
  it('sends the Responses events in order with consecutive sequence numbers, text deltas and the whole item', async () => {
    const stream = await client.responses.create({ model: 'coder-model', input: 'hello', stream: true })
    const events: OpenAI.Responses.ResponseStreamEvent[] = []
    for await (const event of stream) events.push(event)
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(5).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
    const text = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('')
    expect(text).toBe('Hello from the Qwen emulator (coder-model)')
    const done = events.find((e) => e.type === 'response.output_item.done')
    expect(done?.type === 'response.output_item.done' && done.item).toMatchObject({ type: 'message', content: [{ type: 'output_text', text }] })
    const completed = events.at(-1)
    expect(completed?.type === 'response.completed' && completed.response.usage?.output_tokens).toBeGreaterThan(0)
    expect(upstreamCalls(fx)[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } })
  })

  it("passes the SDK's own stream accumulator (every event consistent with the last) for reasoning, text and a tool call", async () => {
    fx.emu.queueReplies({ reasoning: 'I should check the weather', text: 'Checking.', toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris' }, id: 'call_w1' }] })
    const stream = client.responses.stream({ model: 'coder-model', input: 'weather?', tools: [weather] })
    const types: string[] = []
    for await (const event of stream) types.push(event.type)
    const final = await stream.finalResponse()
    expect(final.output.map((item) => item.type)).toEqual(['reasoning', 'message', 'function_call'])
    expect(final.output[2]).toMatchObject({ type: 'function_call', call_id: 'call_w1', name: 'get_weather', arguments: '{"location":"Paris"}', status: 'completed' })
    expect(final.output_text).toBe('Checking.')
    expect(types).toContain('response.reasoning_text.delta')
    expect(types.filter((t) => t === 'response.function_call_arguments.delta').join()).toBe('response.function_call_arguments.delta,response.function_call_arguments.delta')
    expect(types.indexOf('response.function_call_arguments.done')).toBeLessThan(types.lastIndexOf('response.output_item.done'))
  })

  it('sends each upstream chunk on as it arrives, before the upstream is done', async () => {
    fx.emu.setStreamDelay(150)
    const app = proxyApp(fx)
    const res = await app.fetch(new Request('http://127.0.0.1:8787/v1/responses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'coder-model', input: 'hi', stream: true }) }))
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let seen = ''
    while (!seen.includes('response.output_text.delta')) seen += decoder.decode((await reader.read()).value)
    // The first delta is out while the emulator still has four chunks and [DONE] to pace.
    expect(fx.emu.requests[0]?.status).toBe(200)
    expect(seen).not.toContain('response.completed')
    await reader.cancel()
  })

  it('ends a stream the upstream broke after it started with response.failed, not a cut connection', async () => {
    fx.emu.breakNextStream(3)
    const app = proxyApp(fx)
    const res = await app.fetch(new Request('http://127.0.0.1:8787/v1/responses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'coder-model', input: 'hi', stream: true }) }))
    expect(res.status).toBe(200)
    const events = sseEvents(await res.text())
    const last = events.at(-1)
    expect(last?.event).toBe('response.failed')
    expect(last?.data.response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: expect.stringContaining('broke after it started') } })
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i))
    expect(events.map((e) => e.event)).not.toContain('response.completed')
  })
})

describe('tools', () => {
  it('round-trips a function call: the call comes back as a function_call, its output goes up as a tool message', async () => {
    const first = await client.responses.create({ model: 'coder-model', input: 'weather in Paris?', tools: [weather] })
    const call = first.output.find((item) => item.type === 'function_call')
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"location":"Paris"}', status: 'completed' })
    if (call?.type !== 'function_call') throw new Error('no call')
    const second = await client.responses.create({
      model: 'coder-model',
      tools: [weather],
      input: [{ role: 'user', content: 'weather in Paris?' }, call, { type: 'function_call_output', call_id: call.call_id, output: '{"tempC":21}' }],
    })
    expect(second.output_text).toBe('Hello from the Qwen emulator (coder-model)')
    const upstream = upstreamCalls(fx)
    expect(upstream[0]?.body.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: weather.parameters } }])
    expect(upstream[1]?.body.messages).toEqual([
      { role: 'user', content: 'weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: call.call_id, type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
      { role: 'tool', tool_call_id: call.call_id, content: '{"tempC":21}' },
    ])
  })

  it('maps tool_choice and parallel_tool_calls, and several calls in one turn with their outputs', async () => {
    fx.emu.queueReplies({ toolCalls: [{ name: 'get_weather', arguments: { location: 'Paris' }, id: 'c1' }, { name: 'get_weather', arguments: { location: 'Rome' }, id: 'c2' }] })
    const first = await client.responses.create({ model: 'coder-model', input: 'two cities', tools: [weather], tool_choice: { type: 'function', name: 'get_weather' }, parallel_tool_calls: true })
    expect(first.output.map((item) => item.type === 'function_call' && item.call_id)).toEqual(['c1', 'c2'])
    await client.responses.create({
      model: 'coder-model',
      tools: [weather],
      tool_choice: 'required',
      input: [{ role: 'user', content: 'two cities' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: 'c1', output: 'sunny' }, { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'rain' }] }],
    })
    const [one, two] = upstreamCalls(fx)
    expect(one?.body).toMatchObject({ tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: true })
    expect(two?.body.tool_choice).toBe('required')
    expect(two?.body.messages.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [expect.objectContaining({ id: 'c1' }), expect.objectContaining({ id: 'c2' })] },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c2', content: 'rain' },
    ])
  })

  it('offers a freeform custom tool as a one-string function and answers its call as a custom_tool_call with the raw input', async () => {
    const patch = '*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n'
    const applyPatch = { type: 'custom' as const, name: 'apply_patch', description: 'Edit files. FREEFORM.', format: { type: 'grammar' as const, syntax: 'lark' as const, definition: 'start: "*** Begin Patch" LF' } }
    fx.emu.queueReplies({ toolCalls: [{ name: 'apply_patch', arguments: { input: patch }, id: 'call_p1' }] }, { text: 'Done.' })
    const first = await client.responses.create({ model: 'coder-model', input: 'make hello.txt', tools: [applyPatch] })
    expect(first.output).toEqual([{ type: 'custom_tool_call', id: expect.stringMatching(/^ctc_/), call_id: 'call_p1', name: 'apply_patch', input: patch }])
    const tool = upstreamCalls(fx)[0]?.body.tools[0]
    expect(tool.function.name).toBe('apply_patch')
    expect(tool.function.parameters).toEqual({ type: 'object', properties: { input: { type: 'string', description: expect.any(String) } }, required: ['input'], additionalProperties: false })
    expect(tool.function.description).toContain('lark grammar:\nstart: "*** Begin Patch" LF')
    const second = await client.responses.create({
      model: 'coder-model',
      tools: [applyPatch],
      input: [{ role: 'user', content: 'make hello.txt' }, first.output[0] as OpenAI.Responses.ResponseCustomToolCall, { type: 'custom_tool_call_output', call_id: 'call_p1', output: 'Success. Updated the following files:\nA hello.txt' }],
    })
    expect(second.output_text).toBe('Done.')
    expect(upstreamCalls(fx)[1]?.body.messages.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_p1', type: 'function', function: { name: 'apply_patch', arguments: JSON.stringify({ input: patch }) } }] },
      { role: 'tool', tool_call_id: 'call_p1', content: 'Success. Updated the following files:\nA hello.txt' },
    ])
  })

  it("handles what Codex sends: namespaced tools flattened and called back with their namespace, built-in tools and reasoning left out", async () => {
    const namespace = { type: 'namespace', name: 'multi_agent_v1', description: 'Sub-agents.', tools: [{ type: 'function', name: 'close_agent', description: 'Close one.', strict: false, parameters: { type: 'object', properties: { id: { type: 'string' } } } }] }
    fx.emu.queueReplies({ toolCalls: [{ name: 'multi_agent_v1__close_agent', arguments: { id: 'a1' }, id: 'call_ns' }] })
    const body = {
      model: 'coder-model',
      stream: true,
      store: false,
      input: [
        { type: 'message', id: 'msg_1', role: 'developer', content: [{ type: 'input_text', text: 'base prompt' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: '<environment_context>…' }] },
        { type: 'reasoning', id: 'rs_old', summary: [{ type: 'summary_text', text: 'earlier' }], content: null, encrypted_content: null },
        { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'x' } },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'close agent a1' }] },
      ],
      tools: [namespace, { type: 'web_search', external_web_access: false }],
      tool_choice: 'auto',
      parallel_tool_calls: true,
      reasoning: { summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: 'thread',
      client_metadata: { session_id: 's' },
    }
    const debug = vi.spyOn(logger, 'debug').mockImplementation(() => {})
    const stream = client.responses.stream(body as unknown as OpenAI.Responses.ResponseCreateParamsStreaming)
    const final = await stream.finalResponse()
    // Dropped quietly: one debug line for the request, no warning.
    expect(debug.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('left out'))).toEqual(['POST /v1/responses: left out web_search, web_search_call (built-in tools no chat upstream can run)'])
    debug.mockRestore()
    expect(final.output).toHaveLength(1)
    expect(final.output[0]).toMatchObject({ type: 'function_call', call_id: 'call_ns', name: 'close_agent', namespace: 'multi_agent_v1', arguments: '{"id":"a1"}', status: 'completed' })
    const upstream = upstreamCalls(fx)[0]?.body
    expect(upstream.tools.map((t: any) => t.function.name)).toEqual(['multi_agent_v1__close_agent'])
    expect(upstream.tools[0].function.description).toBe('Sub-agents. Close one.')
    expect(upstream.messages).toEqual([
      { role: 'system', content: 'base prompt' },
      { role: 'user', content: '<environment_context>…' },
      { role: 'user', content: 'close agent a1' },
    ])
    // The namespaced call goes back up under its flat name.
    await client.responses.create({ ...body, stream: false, input: [...body.input, final.output[0], { type: 'function_call_output', call_id: 'call_ns', output: 'closed' }] } as any)
    expect(upstreamCalls(fx)[1]?.body.messages.at(-2).tool_calls[0].function.name).toBe('multi_agent_v1__close_agent')
  })
})

describe('structured output', () => {
  it('sends text.format json_schema as response_format and json_object likewise', async () => {
    const schema = { type: 'object', properties: { title: { type: 'string' } }, required: ['title'], additionalProperties: false }
    fx.emu.queueReplies({ text: '{"title":"Hi"}' }, { text: '{}' })
    const response = await client.responses.create({ model: 'coder-model', input: 'title?', text: { format: { type: 'json_schema', name: 'codex_output_schema', schema, strict: true } } })
    expect(JSON.parse(response.output_text)).toEqual({ title: 'Hi' })
    expect(response.text?.format).toMatchObject({ type: 'json_schema', name: 'codex_output_schema' })
    await client.responses.create({ model: 'coder-model', input: 'json please', text: { format: { type: 'json_object' } } })
    const [one, two] = upstreamCalls(fx)
    expect(one?.body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'codex_output_schema', schema, strict: true } })
    expect(two?.body.response_format).toEqual({ type: 'json_object' })
  })
})

describe('errors', () => {
  it('refuses what it cannot do with a 400 in OpenAI shape, before any upstream work', async () => {
    for (const [body, words] of [
      [{ input: 'x', background: true }, /background/],
      [{ input: [{ type: 'compaction', encrypted_content: 'x' }] }, /input\[0\] has type "compaction"/],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, /input_file/],
      [{ input: 'x', tools: [{ type: 'frobnicate' }] }, /tools\[0\] has type "frobnicate"/],
      [{}, /input is required/],
    ] as const) {
      const error = await client.responses.create({ model: 'coder-model', ...body } as any).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(OpenAI.BadRequestError)
      expect((error as APIError).message).toMatch(words)
      expect((error as APIError).error).toMatchObject({ type: 'invalid_request_error' })
    }
    expect(fx.emu.requests).toHaveLength(0)
  })

  it("passes the upstream's refusal of the request on with its status, OpenAI-shaped", async () => {
    const error = await client.responses.create({ model: 'no-such-model', input: 'x' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect((error as APIError).error).toEqual({ message: 'model not found', type: 'invalid_request_error', param: null, code: 'model_not_found' })
  })

  it('answers 429 with Retry-After when every account is cooling down, and 401 without the client key', async () => {
    fx.emu.setUserState('codex@example.com', 'quota')
    const error = await client.responses.create({ model: 'coder-model', input: 'x' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.RateLimitError)
    expect((error as APIError).headers?.get('retry-after')).toMatch(/^\d+$/)
    expect((error as APIError).error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' })
    const keyed = sdkFor(proxyApp(fx, { apiKeys: ['client-key-0123456789'] }), 'wrong-key')
    await expect(keyed.responses.create({ model: 'coder-model', input: 'x' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it('moves a request to the next account when one is out of quota, before anything is sent to the client', async () => {
    fx.emu.setUserState('codex@example.com', 'quota')
    await addKeyAccount(fx, 'sk-second-0123456789')
    const response = await client.responses.create({ model: 'coder-model', input: 'x', stream: false })
    expect(response.status).toBe('completed')
    expect(lines[0]).toMatch(/custom key key-1 200 .*failed over from codex@example\.com: quota exhausted/)
  })
})
