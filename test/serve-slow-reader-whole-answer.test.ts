/**
 * A client that stops reading a large JSON answer for a while (its own processing, a full
 * pipe) is no idle connection: the answer is in flight. Under Node the client limit only
 * applies between requests; the compiled binary must not cut the answer either.
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { spawnServe, testScope } from './helpers/serve-instances.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

const CLIENT_TIMEOUT_MS = 1000
/**
 * How long the client stops reading: well past the client limit, and under the binary past the
 * 4 s after which Bun cuts a request whose idle limit is on (Node keeps its timers to the
 * millisecond).
 */
const PAUSE_MS = { binary: 5000, node: 3 * CLIENT_TIMEOUT_MS }
/**
 * Larger than what the kernel takes in for a client that stopped reading, or the whole answer
 * leaves the server before the pause and nothing is in flight during it: that is about the
 * largest send buffer of a socket (net.ipv4.tcp_wmem, 4 MiB by default; 3.7 MiB measured here),
 * so twice that. (With 2 MiB the binary passed with its piecewise writing switched off.)
 */
const ANSWER_BYTES = 2 * Math.max(4 * 1024 * 1024, largestSendBuffer())

/** Linux's limit on a TCP socket's send buffer, or 0 where it cannot be read. */
function largestSendBuffer(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]) || 0
  } catch {
    return 0
  }
}

function bigUpstream(cleanups: Array<() => Promise<void>>): Promise<string> {
  const content = 'x'.repeat(ANSWER_BYTES)
  const body = JSON.stringify({ id: 'big', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] })
  return stubUpstream((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) })
      res.end(body)
    })
  }, cleanups)
}

/** Sends one chat request, reads the head, stops reading for `pauseMs`, then reads on to the close. */
function pausedRead(port: number, pauseMs: number): Promise<{ head: string; body: Buffer }> {
  const payload = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let paused = false
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`)
    })
    socket.on('data', (data: Buffer) => {
      chunks.push(data)
      if (!paused) {
        paused = true
        socket.pause()
        setTimeout(() => socket.resume(), pauseMs)
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      const all = Buffer.concat(chunks)
      const end = all.indexOf('\r\n\r\n')
      if (end === -1) return reject(new Error(`no answer head: ${all.toString('latin1').slice(0, 200)}`))
      const head = all.subarray(0, end).toString('latin1')
      const raw = all.subarray(end + 4)
      resolve({ head, body: /transfer-encoding: chunked/i.test(head) ? dechunk(raw) : raw })
    })
  })
}

/** The body of a chunked answer, as far as whole chunks arrived. */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at)
    if (lineEnd === -1) break
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16)
    if (!Number.isFinite(size) || size === 0 || lineEnd + 2 + size > raw.byteLength) break
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

// Side by side: most of each is the client's pause.
describe.concurrent.each(['binary', 'node'] as const)('serve (%s): a client that pauses reading a large answer', (runtime) => {
  it('still gets the whole answer', async (context) => {
    const { fx, children, cleanups } = await testScope(context)
    await keyAccountAt(fx.ctx, await bigUpstream(cleanups), 'key-big-upstream-0001', 'big')
    const served = await spawnServe([], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, QWENAUTH_CLIENT_TIMEOUT_MS: String(CLIENT_TIMEOUT_MS) }, runtime, children })
    const port = Number(new URL(served.baseUrl).port)
    const answer = await pausedRead(port, PAUSE_MS[runtime])
    expect(answer.head).toMatch(/^HTTP\/1\.1 200/)
    // The whole JSON answer, not a cut one.
    expect(answer.body.byteLength).toBeGreaterThan(ANSWER_BYTES)
    const parsed = JSON.parse(answer.body.toString('utf8')) as { choices: Array<{ message: { content: string } }> }
    expect(parsed.choices[0]?.message.content.length).toBe(ANSWER_BYTES)
  }, 40_000)
})
