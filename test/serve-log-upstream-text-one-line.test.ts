/**
 * README: `serve` writes one stderr line per request, and `status` one line per last error. The
 * request's line quotes the upstream's own error text (the failover reason), and the account's
 * stored last error does too; a provider whose message holds a line break or a terminal escape
 * sequence then splits the request into several lines (forging log lines, one per break, under
 * journald or in a file) and writes raw escape sequences (window title, OSC 52 clipboard, colour
 * resets) to the operator's terminal.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { renderStatusTable, runStatus } from '../src/commands/status.ts'
import { logger } from '../src/lib/logger.ts'
import { oneLine } from '../src/lib/one-line.ts'
import { readAllStats } from '../src/store/stats-backend.ts'
import { inProcess, succeeded } from './helpers/in-process.ts'
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
  /** The request log line of a request that failed over from an upstream saying `message` (503) to one that serves. */
  async function failedOverLine(message: string): Promise<string> {
    fx = await proxyFixture()
    const failing = await stubUpstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message, code: 'overloaded' } }))
    }, cleanups)
    const working = await stubUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }))
    }, cleanups)
    await keyAccountAt(fx.ctx, failing, 'sk-failing-upstream-1111', 'failing-1')
    await keyAccountAt(fx.ctx, working, 'sk-working-upstream-2222', 'working-1')
    const lines: string[] = []
    const app = proxyApp(fx, { lines })
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
    await app.close()
    const request = lines.filter((line) => line.includes('/v1/chat/completions'))
    expect(request).toHaveLength(1)
    expect(request[0]).toContain('failed over from')
    return request[0]!
  }

  it('a failed-over request is still one log line, without control characters, whatever the upstream said', async () => {
    const line = await failedOverLine('overloaded\n2026-01-01T00:00:00.000Z [info] POST /v1/chat/completions admin 200 1ms\x1b]0;owned\x07')
    expect(line).not.toMatch(CONTROL)
  })

  it('a token right after a control character in the upstream error is still redacted', async () => {
    // Made one line first, the control character would become `\x1b`, whose last hex digit is a
    // word character: the patterns' word boundary (`\beyJ…`) would no longer match.
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzb21lb25lIn0.c2lnbmF0dXJlLXBhcnQ'
    const line = await failedOverLine(`overloaded; trace\x1b${jwt}`)
    expect(line).not.toContain('eyJzdWIiOiJzb21lb25lIn0')
  })

  const HOSTILE = 'quota exceeded\r\n2026-01-01T00:00:00.000Z [info] forged\tline\x1b]52;c;b3duZWQ=\x07\x9b31m\x7f'
  const answers = (status: number, message: string) =>
    stubUpstream((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message, code: 'insufficient_quota' } }))
    }, cleanups)

  it("the account's stored last error, the counters' and `status` keep it on one line, without control characters", async () => {
    fx = await proxyFixture()
    await keyAccountAt(fx.ctx, await answers(429, HOSTILE), 'sk-limited-upstream-3333', 'limited-1')
    const app = proxyApp(fx, { lines: [] })
    expect((await app.fetch(chatRequest({}))).status).toBe(429)
    await app.close()
    const [account] = (await fx.ctx.accounts.read()).accounts
    expect(account?.lastError?.message).toContain('forged line')
    expect(account?.lastError?.message).not.toMatch(CONTROL)
    const stats = await readAllStats(fx.ctx)
    expect(stats['limited-1']?.lastError?.message).toContain('forged line')
    expect(stats['limited-1']?.lastError?.message).not.toMatch(CONTROL)

    // An account stored before this check (an older qwenauth, another machine's Redis store) may
    // carry such text still: `status` prints it on one line all the same, label included.
    await fx.ctx.accounts.update((doc) => {
      doc.accounts[0]!.label = 'evil\x1b[2J\nlabel'
      doc.accounts[0]!.lastError = { message: HOSTILE, at: Date.now() }
    })
    const table = renderStatusTable(succeeded(await inProcess({ home: fx.home }, () => runStatus())))
    const lines = table.trimEnd().split('\n')
    expect(table).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/)
    // Its row in the table and its line under "Last errors", nothing more.
    expect(lines.filter((line) => line.includes('limited-1'))).toHaveLength(2)
    expect(lines.some((line) => line.includes('forged line') && line.includes('limited-1:'))).toBe(true)
  })

  it("the logger's lines (exec's warnings, serve's messages) are one line each, without control characters", async () => {
    const written = await inProcess({ home: '/nonexistent' }, async () => {
      logger.warn(`account k1 ${HOSTILE}`)
      logger.error(new Error(`failed: ${HOSTILE}`))
    })
    const lines = written.stderr.trimEnd().split('\n')
    expect(lines[0]).toContain('forged line')
    expect(lines[0]).not.toMatch(CONTROL)
    expect(written.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/)
    expect(written.stderr).not.toMatch(/^2026-01-01/m)
  })

  it('oneLine: line breaks and tabs become spaces, other control characters show escaped, other text stays as it is', () => {
    expect(oneLine('a\r\nb\nc\rd\te\u2028f')).toBe('a b c d e f')
    expect(oneLine('x\x1b]0;t\x07y\x00\x7f\x9b')).toBe('x\\x1b]0;t\\x07y\\x00\\x7f\\x9b')
    const plain = 'POST /v1/chat/completions ada@example.com 200 12ms 10+5 tokens — ünïcode ✓'
    expect(oneLine(plain)).toBe(plain)
  })
})
