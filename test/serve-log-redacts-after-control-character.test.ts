/**
 * The request log line quotes an upstream's error text (the failover reason). It is redacted,
 * and put on one line; a token in that text must be redacted whatever character comes before it.
 * Put on one line first, a control character right before a token turns into `\x1b`, `\x0b`, …,
 * whose last hex digit is a word character: the patterns' word boundary (`\beyJ…`, `\bsk-…`)
 * then no longer matches, and the token is printed.
 */
import { afterEach, expect, it } from 'vitest'
import { chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture | undefined
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo()
  await fx?.cleanup()
  fx = undefined
})

/** A JWT qwenauth never registered (an upstream echoing some token of its own). */
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzb21lb25lIn0.c2lnbmF0dXJlLXBhcnQ'

it('a token right after a control character in an upstream error is redacted in the request log line', async () => {
  fx = await proxyFixture()
  const failing = await stubUpstream((_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `overloaded; trace\x1b${JWT}`, code: 'overloaded' } }))
  }, cleanups)
  const working = await stubUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }))
  }, cleanups)
  await keyAccountAt(fx.ctx, failing, 'sk-failing-upstream-5555', 'failing-1')
  await keyAccountAt(fx.ctx, working, 'sk-working-upstream-6666', 'working-1')
  const lines: string[] = []
  const app = proxyApp(fx, { lines })
  expect((await app.fetch(chatRequest({}))).status).toBe(200)
  await app.close()
  const request = lines.filter((line) => line.includes('/v1/chat/completions'))
  expect(request).toHaveLength(1)
  expect(request[0]).toContain('failed over from')
  expect(request[0]).not.toContain('eyJzdWIiOiJzb21lb25lIn0')
})
