/**
 * What `serve` holds of an upstream answer is bounded per request: a whole answer
 * (QWENAUTH_MAX_ANSWER_BYTES) and one unfinished streamed event (QWENAUTH_MAX_EVENT_BYTES).
 * Past a limit the client gets an error in its protocol's shape and the upstream request is
 * aborted. The limits are injected small here; the bench shows RSS with the real ones.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { verifyApiKey } from '../src/auth/api-key/verify-key.ts'
import { resolveProxyOptions } from '../src/proxy/options.ts'
import { chatRequest, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  vi.unstubAllEnvs()
  for (const undo of cleanups.splice(0).reverse()) await undo()
  await fx?.cleanup()
})

const KIB = 1024

/** What the stub upstream saw of each request: whether its answer was cut before it was all sent. */
interface Sent {
  bytes: number
  cut: boolean
}

/**
 * Writes `head`, then `total` bytes of `filler` in 16 KiB pieces, each once the last has left
 * (as a large answer trickles out of a real server), then `tail`.
 */
function trickle(res: ServerResponse, head: string, filler: string, total: number, tail: string, sent: Sent): void {
  res.on('close', () => void (sent.cut = !res.writableFinished))
  res.write(head)
  const piece = filler.repeat(Math.ceil((16 * KIB) / filler.length)).slice(0, 16 * KIB)
  const next = () => {
    if (res.destroyed) return
    if (sent.bytes >= total) return void res.end(tail)
    sent.bytes += piece.length
    res.write(piece, () => setImmediate(next))
  }
  next()
}

async function upstreams(count: number, answer: (req: IncomingMessage, res: ServerResponse, sent: Sent) => void): Promise<Sent[]> {
  const seen: Sent[] = []
  for (let i = 0; i < count; i++) {
    const base = await stubUpstream((req, res) => {
      req.resume()
      const sent = { bytes: 0, cut: false }
      seen.push(sent)
      answer(req, res, sent)
    }, cleanups)
    await keyAccountAt(fx.ctx, base, `key-large-answers-000${i}`, `large-${i}`)
  }
  return seen
}

describe('limits on what is held of an upstream answer', () => {
  it('a whole answer past QWENAUTH_MAX_ANSWER_BYTES: an OpenAI error at once, the upstream aborted, no other account tried', async () => {
    fx = await proxyFixture()
    const seen = await upstreams(2, (_req, res, sent) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      trickle(res, '{"choices":[{"message":{"content":"', 'a', 1024 * KIB, '"}}]}', sent)
    })
    const lines: string[] = []
    const app = proxyApp(fx, { maxAnswerBytes: 64 * KIB, lines })

    const res = await app.fetch(chatRequest({}))
    expect(res.status).toBe(502)
    const body = (await res.json()) as { error: { code: string; message: string; type: string } }
    expect(body.error.code).toBe('upstream_answer_too_large')
    expect(body.error.type).toBe('server_error')
    expect(body.error.message).toContain('64 KiB limit (QWENAUTH_MAX_ANSWER_BYTES)')
    expect(seen).toHaveLength(1)
    await waitFor(() => seen[0]?.cut === true, 3000, 'the upstream answer to be cut')
    expect(seen[0]?.bytes).toBeLessThan(1024 * KIB)
    expect(lines.join('\n')).toMatch(/POST \/v1\/chat\/completions large-0 502 .*answer not passed on/)
  })

  it('an event past QWENAUTH_MAX_EVENT_BYTES: the events before it, then the stream’s error event; the upstream aborted', async () => {
    fx = await proxyFixture()
    const first = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'before' }, finish_reason: null }] })}\n\n`
    const seen = await upstreams(1, (_req, res, sent) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      // An event that never ends: no blank line, 1 MiB of it.
      trickle(res, `${first}data: {"x":"`, 'b', 1024 * KIB, '"}\n\n', sent)
    })
    const app = proxyApp(fx, { maxEventBytes: 16 * KIB })

    const res = await app.fetch(chatRequest({ stream: true }))
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text.slice(0, first.length)).toBe(first)
    expect(text).toMatch(/was cut: an event grew past the 16 KiB limit \(QWENAUTH_MAX_EVENT_BYTES\).*"code":"upstream_stream_error"/)
    expect(text).not.toContain('bbbb')
    await waitFor(() => seen[0]?.cut === true, 3000, 'the upstream stream to be cut')
    expect(seen[0]?.bytes).toBeLessThan(1024 * KIB)
  })

  it('a translated Responses stream whose answer outgrows QWENAUTH_MAX_ANSWER_BYTES: the events so far, then response.failed; the upstream aborted', async () => {
    fx = await proxyFixture()
    const event = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'a'.repeat(KIB) }, finish_reason: null }] })}\n\n`
    const seen = await upstreams(1, (_req, res, sent) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.on('close', () => void (sent.cut = !res.writableFinished))
      // Whole events, 16 at a time, each batch once the last has left: 1 MiB of answer text.
      const next = () => {
        if (res.destroyed) return
        if (sent.bytes >= 1024 * KIB) return void res.end('data: [DONE]\n\n')
        sent.bytes += 16 * KIB
        res.write(event.repeat(16), () => setImmediate(next))
      }
      next()
    })
    // Each event is held only until it is translated (well under 64 KiB); the answer text is what adds up.
    const app = proxyApp(fx, { maxAnswerBytes: 64 * KIB })

    const res = await app.fetch(
      new Request('http://127.0.0.1:8787/v1/responses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'coder-model', input: 'hi', stream: true }) }),
    )
    expect(res.status).toBe(200)
    const events = (await res.text()).split('\n\n').filter(Boolean)
    const types = events.map((e) => /^event: (\S+)/.exec(e)?.[1])
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBeGreaterThan(0)
    expect(types.at(-1)).toBe('response.failed')
    expect(types).not.toContain('response.completed')
    expect(events.at(-1)).toContain('the answer is over the 64 KiB limit (QWENAUTH_MAX_ANSWER_BYTES)')
    // No gap in the sequence numbers: the chunk that went past the limit emitted nothing.
    const numbers = events.map((e) => (JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { sequence_number: number }).sequence_number)
    expect(numbers).toEqual(numbers.map((_, i) => i))
    await waitFor(() => seen[0]?.cut === true, 3000, 'the upstream stream to be cut')
    expect(seen[0]?.bytes).toBeLessThan(1024 * KIB)
  })

  it('the key check’s GET /models past QWENAUTH_MAX_ANSWER_BYTES is refused unread, not held whole (the status page runs it inside serve)', async () => {
    vi.stubEnv('QWENAUTH_MAX_ANSWER_BYTES', String(64 * KIB))
    const sent: Sent = { bytes: 0, cut: false }
    const base = await stubUpstream((req, res) => {
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' })
      trickle(res, '{"object":"list","data":[{"id":"m","object":"model","description":"', 'd', 1024 * KIB, '"}]}', sent)
    }, cleanups)
    await expect(verifyApiKey(base, 'key-large-listing-0001', { timeoutMs: 10_000 })).rejects.toThrow(/answered with more than a model listing: the answer is over the 64 KiB limit/)
    await waitFor(() => sent.cut, 3000, 'the listing to be cut')
    expect(sent.bytes).toBeLessThan(1024 * KIB)
  })

  it('the limits come from the environment, with 64 MiB and 16 MiB as defaults', () => {
    const base = { ctx: {} as never }
    expect(resolveProxyOptions(base, {})).toMatchObject({ maxAnswerBytes: 64 * 1024 * KIB, maxEventBytes: 16 * 1024 * KIB })
    expect(resolveProxyOptions(base, { QWENAUTH_MAX_ANSWER_BYTES: '1000', QWENAUTH_MAX_EVENT_BYTES: '500' })).toMatchObject({ maxAnswerBytes: 1000, maxEventBytes: 500 })
  })
})
