/**
 * An upstream tool call whose name never comes is left out of a response's output (no client can
 * answer it), which shortens the kept output; an `item_reference` to an item after it, by the id
 * the client was given, must still find that item rather than answer 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, expect, it } from 'vitest'
import { proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { sdkFor } from './helpers/responses.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0)) await undo()
  await fx?.cleanup()
})

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`

it('resolves a reference to the message that followed a nameless tool call', async () => {
  fx = await proxyFixture()
  const bodies: Array<{ messages: unknown[] }> = []
  const base = await stubUpstream((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d))
    req.on('end', () => {
      bodies.push(JSON.parse(body) as { messages: unknown[] })
      if (bodies.length > 1) {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ id: 'c2', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Second.' }, finish_reason: 'stop' }] }))
      }
      // A call that never names its function, then the text.
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_nameless', type: 'function', function: { arguments: '{}' } }] }))
      res.write(chunk({ content: 'After the call.' }))
      res.end(chunk({}, 'stop') + 'data: [DONE]\n\n')
    })
  }, cleanups)
  await keyAccountAt(fx.ctx, base, 'sk-stub-0123456789', 'stub')
  const client = sdkFor(proxyApp(fx))

  const first = await client.responses.create({ model: 'coder-model', input: 'one', stream: true })
  let completed: { output: Array<{ id: string; type: string }> } | undefined
  for await (const event of first) if (event.type === 'response.completed') completed = event.response as never
  const message = completed?.output.find((item) => item.type === 'message')
  expect(message?.id).toMatch(/^msg_/)

  const second = await client.responses.create({ model: 'coder-model', input: [{ role: 'user', content: 'one' }, { type: 'item_reference', id: message!.id }, { role: 'user', content: 'two' }] })
  expect(second.output_text).toBe('Second.')
  expect(bodies[1]?.messages).toEqual([
    { role: 'user', content: 'one' },
    { role: 'assistant', content: 'After the call.' },
    { role: 'user', content: 'two' },
  ])
})
