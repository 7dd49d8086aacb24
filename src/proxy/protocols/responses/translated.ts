import { isRecord, type Json } from './json.ts'
import { ResponseWriter } from './output.ts'
import type { Renderer, StreamTranslator } from '../protocol.ts'
import { openaiErrorBody } from './errors.ts'

/**
 * How a chat completions answer goes back as a Responses answer: a whole JSON answer becomes a
 * `response` object (or, for a client that asked to stream, the whole event sequence at once);
 * a stream is translated chunk by chunk as it arrives; a 4xx keeps its status with an
 * OpenAI-shaped error. `kept` gets each finished response, to keep for `previous_response_id`.
 */
export function translatedRenderer(makeWriter: () => ResponseWriter, clientStreams: boolean, kept: (response: Json) => void): Renderer {
  let live: ResponseWriter | undefined
  const settle = (writer: ResponseWriter) => {
    const response = writer.snapshot()
    if (response.status === 'completed' || response.status === 'incomplete') kept(response)
  }
  return {
    whole(status, bytes) {
      if (status >= 300) return { status, body: openaiErrorBody(status, bytes), contentType: 'application/json; charset=utf-8' }
      const writer = makeWriter()
      let answer: Json
      try {
        const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes))
        answer = isRecord(parsed) ? parsed : {}
      } catch {
        answer = {}
      }
      const events = Array.isArray(answer.choices) || isRecord(answer.error) ? writer.chunk(answer) + writer.finish() : writer.fail('the upstream answered with something that is not a chat completion')
      settle(writer)
      if (clientStreams) return { status, body: events, contentType: 'text/event-stream; charset=utf-8' }
      const response = writer.snapshot()
      if (response.status === 'failed') return { status: 502, body: openaiErrorBody(502, new TextEncoder().encode(JSON.stringify({ error: response.error }))), contentType: 'application/json; charset=utf-8' }
      return { status, body: JSON.stringify(response), contentType: 'application/json; charset=utf-8' }
    },
    stream(): StreamTranslator {
      const writer = makeWriter()
      live = writer
      return {
        event(data) {
          if (data === '[DONE]') {
            const out = writer.finish()
            if (out) settle(writer)
            return out
          }
          let chunk: unknown
          try {
            chunk = JSON.parse(data)
          } catch {
            return writer.start()
          }
          return isRecord(chunk) ? writer.chunk(chunk) : writer.start()
        },
        end() {
          if (writer.finished) return ''
          // Without `[DONE]`, an answer is whole only if the upstream said why it stopped.
          if (!writer.sawFinish) return writer.fail('the upstream ended the stream before the answer was finished; retry the request')
          const out = writer.finish()
          settle(writer)
          return out
        },
        // The relay hands over what streamFailure made below: already the closing event.
        failure: (event) => event,
      }
    },
    streamFailure: (message) => (live ? live.fail(message) : `event: error\ndata: ${JSON.stringify({ type: 'error', code: 'server_error', message, sequence_number: 0 })}\n\n`),
  }
}
