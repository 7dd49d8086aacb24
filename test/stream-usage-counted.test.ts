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

  it('on a custom URL: the request goes out as the client sent it', async () => {
    fx = await proxyFixture()
    const account = await addKeyAccount(fx, 'sk-custom-0123456789', 'custom-1')
    const { sent } = await streamed({})
    expect(sent).not.toHaveProperty('stream_options')
    expect((await readAllStats(fx.ctx))[account.id]?.completionTokens ?? 0).toBe(0)
  })
})
