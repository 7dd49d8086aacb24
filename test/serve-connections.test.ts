/**
 * The connections `serve` holds for its clients, under both shipped runtimes (the compiled
 * binary and the Node bundle): a connection with no request in flight is closed after
 * QWENAUTH_CLIENT_TIMEOUT_MS, answers in flight are not cut, a request that stops arriving gets
 * 408 and a close, and more idle connections than the process may hold descriptors do not lock
 * a legitimate request out. The tests run side by side, each with a scope of its own (testScope):
 * much of each is waiting on the server's clocks, Bun's 10 s for unfinished headers the longest.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { idleCrowd } from './helpers/idle-crowd.ts'
import { HEALTH_REQUEST, rawConnection, stalledBodyRequest } from './helpers/raw-socket.ts'
import { spawnServe, testScope, type Served, type TestScope } from './helpers/serve-instances.ts'
import { keyAccountAt, stubUpstream } from './helpers/stub-upstream.ts'

const RUNTIMES = ['binary', 'node'] as const
const CLIENT_TIMEOUT_MS = 1000
/**
 * What an answer in flight takes (its whole answer, or its stream's silence mid-way) without
 * being cut: longer than the client limit, and under the binary longer than the 4 s after which
 * Bun cuts a request whose idle limit is left on (a 2.5 s answer got through even so).
 */
const SLOW_MS = { binary: 5000, node: 2500 }
/**
 * The crowd test: `serve` runs under a limit of 512 descriptors, and half as many connections
 * again come to it, each sending a request and then idling. The crowd holds at most 384 at a
 * time, opening the next only when the server has closed one, so the server never nears its limit
 * however fast the machine is at the moment (Bun closes idle connections on a 4-second clock: a
 * burst opened faster than that would reach the limit, and files it opens would fail with EMFILE),
 * and the crowd gets through only if the server closes idle connections.
 */
const CROWD = { size: 768, fdLimit: 512, atOnce: 384 } as const

async function startServe({ fx, children }: TestScope, runtime: (typeof RUNTIMES)[number], fdLimit?: number): Promise<{ served: Served; port: number }> {
  const served = await spawnServe([], {
    home: fx.home,
    env: { QWENAUTH_OAUTH_URL: fx.emu.url, QWENAUTH_CLIENT_TIMEOUT_MS: String(CLIENT_TIMEOUT_MS) },
    runtime,
    children,
    ...(fdLimit ? { fdLimit } : {}),
  })
  return { served, port: Number(new URL(served.baseUrl).port) }
}

const chunk = (content: string) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })

/** An upstream whose whole answer comes after `slowMs`, and whose stream is silent that long mid-way. */
function slowUpstream({ cleanups }: TestScope, slowMs: number): Promise<string> {
  return stubUpstream((req, res) => {
    let body = ''
    req.on('data', (data: Buffer) => (body += data))
    req.on('end', () => {
      if ((JSON.parse(body) as { stream?: boolean }).stream !== true) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ id: 'slow', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'late answer' }, finish_reason: 'stop' }] }))
        }, slowMs)
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(`data: ${chunk('first')}\n\n`)
      setTimeout(() => res.end(`data: ${chunk(' after the silence')}\n\ndata: [DONE]\n\n`), slowMs)
    })
  }, cleanups)
}

function chat(baseUrl: string, stream: boolean): Promise<{ status: number; text: string }> {
  return fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream }),
  }).then(async (res) => ({ status: res.status, text: await res.text() }))
}

describe.concurrent.each(RUNTIMES)('serve (%s): client connections', (runtime) => {
  it('closes a connection left idle after its answer; a slow answer and a silent stream in flight are not cut', async (context) => {
    const test = await testScope(context)
    await keyAccountAt(test.fx.ctx, await slowUpstream(test, SLOW_MS[runtime]), 'key-slow-upstream-0001', 'slow')
    const { served, port } = await startServe(test, runtime)

    const idle = await rawConnection(port, HEALTH_REQUEST)
    expect(await idle.answers(1, 5000)).toHaveLength(1)
    const [whole, streamed] = await Promise.all([chat(served.baseUrl, false), chat(served.baseUrl, true)])
    expect(whole.status).toBe(200)
    expect(whole.text).toContain('late answer')
    expect(streamed.status).toBe(200)
    expect(streamed.text).toContain('after the silence')
    expect(streamed.text).toContain('data: [DONE]')
    // Bun counts its idle limit in whole seconds, on a 4-second clock.
    expect(await idle.closedWithin(10_000)).not.toBe('open')
  })

  it('a request body that stops short of its Content-Length gets 408 and a close', async (context) => {
    const { port } = await startServe(await testScope(context), runtime)
    const stalled = await rawConnection(port, stalledBodyRequest(100, 10))
    const [status] = await stalled.answers(1, 5000)
    expect(status).toMatch(/^HTTP\/1\.1 408/)
    expect(stalled.received()).toContain('request_timeout')
    expect(await stalled.closedWithin(5000)).not.toBe('open')
  })

  crowdTest(runtime)
})

it.concurrent('serve (node): headers that stop arriving get 408 and a close', async (context) => {
  const { port } = await startServe(await testScope(context), 'node')
  const unfinished = await rawConnection(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  expect(await unfinished.answers(1, 5000)).toEqual([expect.stringMatching(/^HTTP\/1\.1 408/)])
  expect(await unfinished.closedWithin(5000)).not.toBe('open')
})

describe.concurrent('serve: two pipelined requests in one write', () => {
  const twoRequests = `${HEALTH_REQUEST}${HEALTH_REQUEST}`

  it('the Node bundle answers both, in order', async (context) => {
    const { port } = await startServe(await testScope(context), 'node')
    const connection = await rawConnection(port, twoRequests)
    expect(await connection.answers(2, 5000)).toHaveLength(2)
    connection.destroy()
  })

  // A runtime limit, not qwenauth's (README, Troubleshooting): Bun 1.4.5, the newest Bun and
  // the one the binary is built with, closes a connection whose second pipelined request
  // arrives while the first one's answer is being made, and answers neither. This states what
  // the README says; when a Bun upgrade makes it fail, the runtime is fixed: assert two answers
  // instead and drop the README's note.
  it('the compiled binary answers neither and closes, though the same requests one after the other are answered', async (context) => {
    const { port } = await startServe(await testScope(context), 'binary')
    // The control: on one connection, a request sent after the first answer is answered.
    const sequential = await rawConnection(port, HEALTH_REQUEST)
    // (503: the fixture's home has no usable account; any answer will do.)
    expect(await sequential.answers(1, 5000)).toHaveLength(1)
    sequential.socket.write(HEALTH_REQUEST)
    expect(await sequential.answers(2, 5000)).toHaveLength(2)
    sequential.destroy()

    const pipelined = await rawConnection(port, twoRequests)
    expect(await pipelined.closedWithin(5000)).not.toBe('open')
    expect(pipelined.received()).toBe('')
    pipelined.destroy()
  })
})

/**
 * More idle connections than `serve` may hold descriptors, each having sent a request: a
 * legitimate request is still answered, and the server closes every idle connection itself. Some
 * 12 s under the binary (Bun closes unfinished headers after 8 to 12 s, idle connections on a
 * 4-second clock); under Node, a few seconds.
 */
function crowdTest(runtime: (typeof RUNTIMES)[number]) {
  const { size, fdLimit, atOnce } = CROWD
  it(`${size} idle connections, more than its ${fdLimit} descriptors, do not lock a legitimate request out`, async (context) => {
    const test = await testScope(context)
    const { served, port } = await startServe(test, runtime, fdLimit)
    // The limit holds for serve itself (soft and hard: no runtime can raise it).
    expect(readFileSync(`/proc/${served.child.pid}/limits`, 'utf8')).toMatch(new RegExp(`^Max open files +${fdLimit} +${fdLimit} `, 'm'))
    // Headers that stop arriving: Node answers 408 after the client limit; Bun closes such a
    // connection itself after 10 s, without an answer (no request exists yet to answer).
    const unfinished = await rawConnection(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n')

    const crowd = await idleCrowd(port, size, atOnce)
    test.cleanups.push(async () => crowd.destroy())
    expect(crowd.opened).toBe(size)
    expect(crowd.answered).toBe(size)
    // Asked while the crowd's last connections are held.
    let answer: Response | undefined
    for (let attempt = 0; attempt < 20 && !answer; attempt++) {
      answer = await fetch(`${served.baseUrl.replace(/\/v1$/, '')}/health`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined)
    }
    expect(answer?.status).toBe(503) // no accounts: an answer from qwenauth, not the runtime
    // Every connection is closed by the server in the end, none by its client.
    expect(await crowd.allClosedByServer(15_000)).toBe(size)
    expect(served.stderr()).not.toMatch(/EMFILE|too many open files/i)

    expect(await unfinished.closedWithin(15_000)).not.toBe('open')
    if (runtime === 'node') expect(unfinished.received()).toMatch(/^HTTP\/1\.1 408/)
  }, 60_000)
}
