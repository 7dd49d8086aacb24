import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ProxyApp } from '../src/proxy/app.ts'
import { chatRequest, loginAs, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const KEY = 'sk-input-test-key-abcdef'
let fx: ProxyFixture
let app: ProxyApp
let lines: string[]
let token: string

beforeEach(async () => {
  fx = await proxyFixture()
  token = (await loginAs(fx, 'input@example.com')).accessToken ?? ''
  lines = []
  app = proxyApp(fx, { apiKeys: [KEY], maxBodyBytes: 4096, lines })
})
afterEach(async () => {
  await fx.cleanup()
})

async function expectOpenAIError(res: Response, status: number, code: string): Promise<string> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const text = await res.text()
  const body = JSON.parse(text) as { error: { message: string; type: string; code: string } }
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
  expect(typeof body.error.type).toBe('string')
  expect(text).not.toContain(token)
  expect(text).not.toContain(KEY)
  return body.error.message
}

function post(path: string, body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request(`http://127.0.0.1:8787${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit)
}

describe('bad input gets an OpenAI-shaped error, never a crash', () => {
  it('malformed JSON, an empty body and a JSON array are 400', async () => {
    await expectOpenAIError(await app.fetch(post('/v1/chat/completions', '{"model": "coder-model",')), 400, 'invalid_json')
    await expectOpenAIError(await app.fetch(post('/v1/chat/completions', '')), 400, 'invalid_json')
    await expectOpenAIError(await app.fetch(post('/v1/chat/completions', '[1,2]')), 400, 'invalid_json')
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('a body over the limit is 413, declared or streamed', async () => {
    const big = JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'x'.repeat(5000) }] })
    await expectOpenAIError(await app.fetch(post('/v1/chat/completions', big, { 'content-length': String(big.length) })), 413, 'request_too_large')
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1000)))
        controller.close()
      },
    })
    await expectOpenAIError(await app.fetch(post('/v1/chat/completions', chunked)), 413, 'request_too_large')
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('unknown routes are 404 and wrong methods 405 with Allow', async () => {
    const get = (path: string, key = KEY) => new Request(`http://127.0.0.1:8787${path}`, { headers: { authorization: `Bearer ${key}` } })
    expect(await expectOpenAIError(await app.fetch(get('/v1/nope')), 404, 'unknown_route')).toContain('POST /v1/chat/completions')
    const wrong = await app.fetch(get('/v1/chat/completions'))
    expect(wrong.headers.get('allow')).toBe('POST')
    await expectOpenAIError(wrong, 405, 'method_not_allowed')
    await expectOpenAIError(await app.fetch(post('/v1/models', '{}')), 405, 'method_not_allowed')
  })

  it('a missing or wrong key is 401 on every route but /health; Bearer and x-api-key both work', async () => {
    const noKey = new Request('http://127.0.0.1:8787/v1/models')
    expect(await expectOpenAIError(await app.fetch(noKey), 401, 'invalid_api_key')).toMatch(/API key is required/)
    const wrong = new Request('http://127.0.0.1:8787/v1/models', { headers: { authorization: 'Bearer sk-not-the-key-123' } })
    await expectOpenAIError(await app.fetch(wrong), 401, 'invalid_api_key')
    await expectOpenAIError(await app.fetch(new Request('http://127.0.0.1:8787/v1/unknown')), 401, 'invalid_api_key')
    await expectOpenAIError(await app.fetch(new Request('http://127.0.0.1:8787/v1/models', { headers: { 'x-api-key': `${KEY}x` } })), 401, 'invalid_api_key')
    expect(fx.emu.requests).toHaveLength(0)

    expect((await app.fetch(new Request('http://127.0.0.1:8787/v1/models', { headers: { 'x-api-key': KEY } }))).status).toBe(200)
    expect((await app.fetch(chatRequest({}, { key: KEY }))).status).toBe(200)
    expect(lines.join('\n')).not.toContain(KEY)
  })
})

describe('what reaches the upstream', () => {
  it('caps max_tokens and max_completion_tokens at the model limit, overridable', async () => {
    await app.fetch(chatRequest({ max_tokens: 1_000_000 }, { key: KEY }))
    await app.fetch(chatRequest({ model: 'vision-model', max_completion_tokens: 100_000 }, { key: KEY }))
    await app.fetch(chatRequest({ max_tokens: 100 }, { key: KEY }))
    const bodies = fx.emu.requests.map((r) => r.body as Record<string, unknown>)
    expect(bodies.map((b) => b.max_tokens ?? b.max_completion_tokens)).toEqual([65_536, 8_192, 100])
    expect(fx.emu.requests.map((r) => r.status)).toEqual([200, 200, 200])

    const custom = proxyApp(fx, { outputLimits: { 'coder-model': 1000 } })
    await custom.fetch(chatRequest({ max_tokens: 4000 }))
    expect((fx.emu.requests.at(-1)?.body as { max_tokens: number }).max_tokens).toBe(1000)
  })

  it('passes unknown fields, response_format and stream_options through untouched', async () => {
    const body = {
      model: 'coder-model',
      messages: [{ role: 'user', content: 'hi', x_vendor: { nested: [1, 2] } }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      stream: true,
      stream_options: { include_usage: true },
      some_future_field: 'kept',
      temperature: 0.25,
    }
    const res = await app.fetch(post('/v1/chat/completions', JSON.stringify(body)))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    await res.text()
    expect(fx.emu.requests[0]?.body).toEqual(body)
  })
})

describe('client aborts', () => {
  it('a client that leaves mid-stream aborts the upstream request', async () => {
    fx.emu.setStreamDelay(200)
    const controller = new AbortController()
    const res = await app.fetch(chatRequest({ stream: true }, { key: KEY, signal: controller.signal }))
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^data: /)
    controller.abort()
    await reader.cancel().catch(() => {})
    await waitFor(() => fx.emu.abortedRequests === 1, 2000, 'the upstream abort')
    expect(fx.emu.requests[0]?.aborted).toBe(true)
  })

  it('a client that leaves before the answer aborts the upstream request', async () => {
    fx.emu.delayNextResponse(1500)
    const controller = new AbortController()
    const pending = app.fetch(chatRequest({}, { key: KEY, signal: controller.signal }))
    await waitFor(() => fx.emu.requests.length === 1, 2000, 'the upstream request')
    controller.abort()
    await pending
    await waitFor(() => fx.emu.abortedRequests === 1, 2000, 'the upstream abort')
    expect(fx.emu.requests).toHaveLength(1)
  })
})
