import { describe, expect, it } from 'vitest'
import { findUsage } from '../src/proxy/relay.ts'
import { EventFramer, eventData } from '../src/proxy/sse-framing.ts'
import { openaiPassthrough } from '../src/proxy/protocols/openai.ts'
import type { Plan, StreamTranslator } from '../src/proxy/protocols/protocol.ts'
import { relaySse, type RelayEnd, type RelayHooks } from '../src/proxy/sse.ts'

const bytes = (text: string) => new TextEncoder().encode(text)

/** An upstream body that yields the given chunks, then ends or fails. */
function upstream(chunks: string[], failWith?: Error): ReadableStreamDefaultReader<Uint8Array> {
  let i = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) return controller.enqueue(bytes(chunks[i++] ?? ''))
      if (failWith) controller.error(failWith)
      else controller.close()
    },
  }).getReader()
}

async function relay(
  chunks: string[],
  failWith?: Error,
  extra: Partial<RelayHooks> = {},
): Promise<{ out: string[]; end: RelayEnd | undefined; activity: number; seen: string }> {
  const reader = upstream(chunks.slice(1), failWith)
  let end: RelayEnd | undefined
  let activity = 0
  let seen = ''
  const stream = relaySse(reader, bytes(chunks[0] ?? ''), {
    onActivity: () => activity++,
    onEvents: (text) => (seen += text),
    onEnd: (e) => (end = e),
    abortUpstream: () => {},
    failureEvent: (error) => `data: ${JSON.stringify({ error: { message: `broke: ${(error as Error).message}`, type: 'server_error', code: 'upstream_stream_error' } })}\n\n`,
    ...extra,
  })
  const out: string[] = []
  const decoder = new TextDecoder()
  for await (const chunk of stream) out.push(decoder.decode(chunk))
  return { out, end, activity, seen }
}

describe('SSE relay', () => {
  it('forwards each whole event as soon as its blank line arrives, holding only an unfinished one', async () => {
    const { out, end, activity } = await relay(['data: {"a":1}\n\ndata: {"b"', ':2}\n\n', 'data: [DONE]\n\n'])
    expect(out).toEqual(['data: {"a":1}\n\n', 'data: {"b":2}\n\n', 'data: [DONE]\n\n'])
    expect(end).toEqual({ kind: 'complete' })
    expect(activity).toBe(2)
  })

  it('ends with a well-formed error event, never half an event, when the upstream breaks', async () => {
    const { out, end } = await relay(['data: {"a":1}\n\n', 'data: {"half'], new Error('socket hang up'))
    const text = out.join('')
    expect(text).not.toContain('half')
    const events = text.split('\n\n').filter(Boolean)
    expect(events[0]).toBe('data: {"a":1}')
    expect(JSON.parse(events[1]?.slice('data: '.length) ?? '')).toEqual({
      error: { message: 'broke: socket hang up', type: 'server_error', code: 'upstream_stream_error' },
    })
    expect(end?.kind).toBe('failed')
  })

  it('an upstream that breaks after data: [DONE] ends the stream cleanly, without an error event', async () => {
    const { out, end } = await relay(['data: {"a":1}\n\n', 'data: [DONE]\n\n'], new Error('socket hang up'))
    expect(out.join('')).toBe('data: {"a":1}\n\ndata: [DONE]\n\n')
    expect(end?.kind).toBe('complete')
  })

  it('hands whole events to the usage counter, which finds the last usage', async () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}\n\n'
    const { seen } = await relay(['data: {"choices":[{"delta":{"content":"\\"usage\\""}}],"usage":null}\n\n', usage, 'data: [DONE]\n\n'])
    expect(findUsage(seen)).toEqual({ promptTokens: 12, completionTokens: 34 })
  })

  it('finds event boundaries in every line-ending style, also when one straddles two chunks', () => {
    const cut = (...chunks: string[]) => {
      const framer = new EventFramer()
      return chunks.map((c) => {
        const events = framer.push(bytes(c))
        return events ? new TextDecoder().decode(events) : undefined
      })
    }
    expect(cut('data: a\n\ndata: b')).toEqual(['data: a\n\n'])
    expect(cut('data: a\r\n\r\n')).toEqual(['data: a\r\n\r\n'])
    expect(cut('data: a\r\rdata')).toEqual(['data: a\r\r'])
    expect(cut('data: a\ndata: b\n')).toEqual([undefined])
    expect(cut('data: a\n', '\ndata: b')).toEqual([undefined, 'data: a\n\n'])
    expect(cut('data: a\r\n', '\r', '\n')).toEqual([undefined, undefined, 'data: a\r\n\r\n'])
    expect(cut('data: a', 'b', 'c\n\n')).toEqual([undefined, undefined, 'data: abc\n\n'])
  })

  it('keeps a long unfinished event as chunks and copies it once: 20 MiB in 5,000 chunks without a blank line', () => {
    const framer = new EventFramer()
    const chunk = bytes('x'.repeat(4096))
    framer.push(bytes('data: '))
    for (let i = 0; i < 5000; i++) expect(framer.push(chunk)).toBeUndefined()
    const events = framer.push(bytes('\n\n'))
    expect(events?.byteLength).toBe(6 + 5000 * 4096 + 2)
  })

  it('translates each whole event for another protocol, closes with its last events, and keeps a silent client alive', async () => {
    const translated = await relay(['data: {"n":1}\n\ndata: {"n"', ':2}\n\n', 'data: [DONE]\n\n'], undefined, {
      translator: { event: (data) => (data === '[DONE]' ? '' : `event: n\ndata: ${JSON.parse(data).n * 10}\n\n`), end: () => 'event: stop\ndata: {}\n\n' },
    })
    expect(translated.out.join('')).toBe('event: n\ndata: 10\n\nevent: n\ndata: 20\n\nevent: stop\ndata: {}\n\n')
    const broken = await relay(['data: {"n":1}\n\n'], new Error('reset'), {
      translator: { event: () => 'event: n\n\n', end: () => '', failure: (event) => `event: error\n${event}` },
    })
    expect(broken.out.join('')).toMatch(/^event: n\n\nevent: error\ndata: .*broke: reset/)
    expect(broken.end?.kind).toBe('failed')
    let release = () => {}
    const slow = new ReadableStream<Uint8Array>({
      pull: (controller) =>
        new Promise<void>((resolve) => {
          release = () => {
            controller.close()
            resolve()
          }
        }),
    }).getReader()
    const kept = relaySse(slow, bytes('data: 1\n\n'), {
      onActivity: () => {},
      onEnd: () => {},
      abortUpstream: () => {},
      failureEvent: () => '',
      translator: { event: (d) => `data: ${d}\n\n`, end: () => '', keepAlive: () => 'event: ping\n\n' },
      keepAliveMs: 20,
    }).getReader()
    const decoder = new TextDecoder()
    expect(decoder.decode((await kept.read()).value)).toBe('data: 1\n\n')
    expect(decoder.decode((await kept.read()).value)).toBe('event: ping\n\n')
    release()
  })

  it('a filtering translator passes the last event on as it came: a cut-off one gets no blank line that would make it look whole', async () => {
    const asked = openaiPassthrough('/chat/completions', 'chat').plan({ path: '/v1/chat/completions', search: '', body: { text: '{}', json: { stream: true } }, headers: new Headers() } as never)
    const render = (asked as Plan).callFor({ provider: 'dashscope' } as never)?.render
    const translator = render?.stream?.()
    expect(translator?.filter).toBeTypeOf('function')
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'
    const clean = await relay([': OPENROUTER PROCESSING\n\ndata: {"choices":[{"delta":{"content":"hi"}}]}\n\n', usage, 'data: [DONE]'], undefined, { translator: translator as StreamTranslator })
    expect(clean.out.join('')).toBe(': OPENROUTER PROCESSING\n\ndata: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]')
    const cut = await relay(['data: {"choices":[{"delta":{"content":"hi"}}]}\n\n', 'data: {"choices":[{"delta":{"cont'], undefined, { translator: translator as StreamTranslator })
    expect(cut.out.join('')).toBe('data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: {"choices":[{"delta":{"cont')
  })

  it('reads data payloads: several data lines joined, comments and other fields skipped', () => {
    expect(eventData(': comment\nevent: x\ndata: a\ndata:b\n\ndata: c\r\n\r\n')).toEqual(['a\nb', 'c'])
  })

  it('ignores usage: null and finds usage in a JSON answer', () => {
    expect(findUsage('{"usage":null}')).toBeUndefined()
    expect(findUsage('{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":4}}')).toEqual({ promptTokens: 3, completionTokens: 4 })
  })
})
