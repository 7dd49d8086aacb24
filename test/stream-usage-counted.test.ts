/**
 * A client that streams chat completions without `stream_options.include_usage` gets no token
 * counts from the provider, so the account's counters and token limits (`month-tokens=…`) missed
 * its tokens. Where the provider takes the option (the Qwen APIs and every preset), qwenauth asks
 * for it on the client's behalf and keeps the usage chunk that adds to itself; a custom URL's API
 * is unknown (a strict one refuses fields it does not know), so its requests go out as they came.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readAllStats } from '../src/store/stats-backend.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

interface Chunk {
  choices: unknown[]
  usage?: unknown
}

/** The chunks a client read from the stream, `[DONE]` left out; throws on a line that is not an event. */
function chunks(text: string): Chunk[] {
  const events = text.split('\n\n').filter(Boolean)
  expect(events.at(-1)).toBe('data: [DONE]')
  return events.slice(0, -1).map((event) => {
    expect(event.startsWith('data: ')).toBe(true)
    return JSON.parse(event.slice('data: '.length)) as Chunk
  })
}

async function streamed(body: Record<string, unknown>): Promise<{ chunks: Chunk[]; sent: Record<string, unknown> }> {
  const app = proxyApp(fx)
  const res = await app.fetch(chatRequest({ stream: true, ...body }))
  expect(res.status).toBe(200)
  const read = chunks(await res.text())
  await app.close()
  return { chunks: read, sent: fx.emu.requests.at(-1)?.body as Record<string, unknown> }
}

describe('a stream whose client did not ask for usage', () => {
  it('on a DashScope account: asked for upstream, counted, and the client gets the stream it asked for', async () => {
    fx = await proxyFixture()
    const account = await addKeyAccount(fx, 'sk-dashscope-0123456789', 'dashscope-1', { provider: 'dashscope' })
    const { chunks: read, sent } = await streamed({})
    expect(sent.stream_options).toEqual({ include_usage: true })
    expect(read.length).toBeGreaterThan(1)
    expect(read.every((c) => c.choices.length > 0)).toBe(true)
    const stats = (await readAllStats(fx.ctx))[account.id]
    expect(stats?.promptTokens).toBeGreaterThan(0)
    expect(stats?.completionTokens).toBeGreaterThan(0)
  })

  it('keeps what else the client put in stream_options', async () => {
    fx = await proxyFixture()
    await addKeyAccount(fx, 'sk-dashscope-0123456789', 'dashscope-1', { provider: 'dashscope' })
    const { sent } = await streamed({ stream_options: { include_usage: false, continuous_usage_stats: false } })
    expect(sent.stream_options).toEqual({ include_usage: true, continuous_usage_stats: false })
  })

  it('a client that asked gets the usage chunk, as before', async () => {
    fx = await proxyFixture()
    await addKeyAccount(fx, 'sk-dashscope-0123456789', 'dashscope-1', { provider: 'dashscope' })
    const { chunks: read } = await streamed({ stream_options: { include_usage: true } })
    expect(read.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: expect.any(Number) } })
  })

  it("passes the upstream's own event bytes on: OpenRouter's keep-alive comments reach the client, and only the asked-for usage chunk is held back", async () => {
    fx = await proxyFixture({ extraModels: ['qwen/qwen3-coder'] })
    const key = 'sk-or-v1-0123456789abcdef'
    const account = await addKeyAccount(fx, key, 'openrouter-1', { provider: 'openrouter' })
    fx.emu.setKeyPlan(key, { kind: 'openrouter' })
    const app = proxyApp(fx)
    const res = await app.fetch(chatRequest({ stream: true }))
    const text = await res.text()
    await app.close()
    // A client with a read timeout needs the comments OpenRouter sends while the model is queued.
    const comment = ': OPENROUTER PROCESSING\n\n'
    expect(text.slice(0, comment.length)).toBe(comment)
    const direct = await fetch(`${fx.emu.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen/qwen3-coder', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    })
    // Byte for byte what the provider sends a client that did not ask: ids and times aside, and
    // the `"usage":null` a provider puts in each chunk of a stream that asked for usage.
    const normalise = (t: string) => t.replace(/"id":"[^"]*"/g, '"id":"-"').replace(/"created":\d+/g, '"created":0').replace(/,"usage":null/g, '')
    expect(normalise(text)).toBe(normalise(await direct.text()))
    expect((await readAllStats(fx.ctx))[account.id]?.completionTokens).toBeGreaterThan(0)
  })

  it('on a custom URL: the request goes out as the client sent it', async () => {
    fx = await proxyFixture()
    const account = await addKeyAccount(fx, 'sk-custom-0123456789', 'custom-1')
    const { sent } = await streamed({})
    expect(sent).not.toHaveProperty('stream_options')
    expect((await readAllStats(fx.ctx))[account.id]?.completionTokens ?? 0).toBe(0)
  })
})
