import { describe, expect, it } from 'vitest'
import { lastEventEnd, relaySse, type RelayEnd } from '../src/proxy/sse.ts'
import { findUsage } from '../src/proxy/usage.ts'

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

async function relay(chunks: string[], failWith?: Error): Promise<{ out: string[]; end: RelayEnd | undefined; activity: number }> {
  const reader = upstream(chunks.slice(1), failWith)
  let end: RelayEnd | undefined
  let activity = 0
  const stream = relaySse(reader, bytes(chunks[0] ?? ''), {
    onActivity: () => activity++,
    onEnd: (e) => (end = e),
    abortUpstream: () => {},
    failureMessage: (error) => `broke: ${(error as Error).message}`,
  })
  const out: string[] = []
  const decoder = new TextDecoder()
  for await (const chunk of stream) out.push(decoder.decode(chunk))
  return { out, end, activity }
}

describe('SSE relay', () => {
  it('forwards each whole event as soon as its blank line arrives, holding only an unfinished one', async () => {
    const { out, end, activity } = await relay(['data: {"a":1}\n\ndata: {"b"', ':2}\n\n', 'data: [DONE]\n\n'])
    expect(out).toEqual(['data: {"a":1}\n\n', 'data: {"b":2}\n\n', 'data: [DONE]\n\n'])
    expect(end).toEqual({ kind: 'complete', usage: undefined })
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

  it('reads the usage of the stream for the counters', async () => {
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}\n\n'
    const { end } = await relay(['data: {"choices":[{"delta":{"content":"\\"usage\\""}}],"usage":null}\n\n', usage, 'data: [DONE]\n\n'])
    expect(end?.usage).toEqual({ promptTokens: 12, completionTokens: 34 })
  })

  it('finds event boundaries in every line-ending style', () => {
    expect(lastEventEnd(bytes('data: a\n\ndata: b'))).toBe(9)
    expect(lastEventEnd(bytes('data: a\r\n\r\n'))).toBe(11)
    expect(lastEventEnd(bytes('data: a\r\rdata'))).toBe(9)
    expect(lastEventEnd(bytes('data: a\ndata: b\n'))).toBe(0)
  })

  it('ignores usage: null and finds usage in a JSON answer', () => {
    expect(findUsage('{"usage":null}')).toBeUndefined()
    expect(findUsage('{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":4}}')).toEqual({ promptTokens: 3, completionTokens: 4 })
  })
})
