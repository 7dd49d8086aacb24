/**
 * README: `serve` writes one stderr line per request, and `status` one line per last error. The
 * request's line quotes the upstream's own error text (the failover reason), and the account's
 * stored last error does too; a provider whose message holds a line break or a terminal escape
 * sequence then splits the request into several lines (forging log lines, one per break, under
 * journald or in a file) and writes raw escape sequences (window title, OSC 52 clipboard, colour
 * resets) to the operator's terminal.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

let fx: ProxyFixture | undefined
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo()
  await fx?.cleanup()
  fx = undefined
})

const CONTROL = /[\x00-\x1f\x7f]/

describe('upstream error text in what qwenauth prints', () => {
  it('a failed-over request is still one log line, without control characters, whatever the upstream said', async () => {
    fx = await proxyFixture()
    const hostile = 'overloaded\n2026-01-01T00:00:00.000Z [info] POST /v1/chat/completions admin 200 1ms\x1b]0;owned\x07'
    const failing = await stubUpstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: hostile, code: 'overloaded' } }))
    }, cleanups)
    const working = await stubUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }))
    }, cleanups)
    await keyAccountAt(fx.ctx, failing, 'sk-failing-upstream-1111', 'failing-1')
    await keyAccountAt(fx.ctx, working, 'sk-working-upstream-2222', 'working-1')
    const lines: string[] = []
    const app = proxyApp(fx, { lines })
    const answer = await app.fetch(chatRequest({}))
    expect(answer.status).toBe(200)
    await app.close()
    const request = lines.filter((line) => line.includes('/v1/chat/completions'))
    expect(request).toHaveLength(1)
    expect(request[0]).toContain('failed over from')
    expect(request[0]).not.toMatch(CONTROL)
  })
})
