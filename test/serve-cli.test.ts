import type { ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'
import { spawnServe, type Served } from './helpers/serve-instances.ts'
import { chatRequest, loginAs, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
const children: ChildProcess[] = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await fx?.cleanup()
})

/** Spawns `qwenauth serve` against the fixture and waits for the base URL it prints on stdout. */
function startServe(args: string[], runtime: 'node' | 'binary' = 'node', env: Record<string, string> = {}): Promise<Served> {
  return spawnServe(args, { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, ...env }, runtime, children })
}

function post(baseUrl: string, request: Request, signal?: AbortSignal): Promise<Response> {
  return fetch(`${baseUrl}/chat/completions`, { method: 'POST', headers: request.headers, body: request.body, duplex: 'half', ...(signal ? { signal } : {}) } as RequestInit)
}

describe('qwenauth serve as a process', () => {
  it('prints its base URL, logs one line per request, drains on SIGTERM, and status shows the counters', async () => {
    fx = await proxyFixture()
    const account = await loginAs(fx, 'proc@example.com')
    const served = await startServe([])
    await waitFor(() => served.stderr().includes('base URL'), 3000, 'the listening note')
    expect(served.stderr()).toMatch(/base URL http:\/\/127\.0\.0\.1:\d+\/v1 \(1 account, fill-first, no API key: loopback only\)/)

    const first = await post(served.baseUrl, chatRequest({}))
    expect(first.status).toBe(200)
    expect(((await first.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toContain('Hello')

    fx.emu.delayNextResponse(800)
    const slow = post(served.baseUrl, chatRequest({}))
    await waitFor(() => fx.emu.requests.length === 2, 3000, 'the slow request upstream')
    served.child.kill('SIGTERM')
    expect((await slow).status).toBe(200)
    // (That idle keep-alive connections do not hold the exit up until the drain limit is
    // proxy-slow-clients-and-shutdown.test.ts's, without a clock.)
    expect(await served.exited).toBe(0)
    const log = served.stderr()
    expect(log.match(/POST \/v1\/chat\/completions proc@example\.com 200 \d+ms \d+\+\d+ tokens/g)).toHaveLength(2)
    expect(log).not.toContain(account.accessToken)

    // What serve counted, as `status` shows it (in-process: nothing there is about a process).
    const status = await runInProcess(['status', '--json'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url } })
    const entry = (JSON.parse(status.stdout) as { accounts: Array<{ id: string; stats: { requests: number; completionTokens: number } }> }).accounts[0]
    expect(entry?.id).toBe(account.id)
    expect(entry?.stats.requests).toBe(2)
    expect(entry?.stats.completionTokens).toBeGreaterThan(0)
    const table = await runInProcess(['status'], { home: fx.home })
    expect(table.stdout).toMatch(/REQUESTS\s+TOKENS IN\/OUT/)
  })

  it('refuses to listen beyond loopback without an API key', async () => {
    fx = await proxyFixture()
    // The compiled binary, here and for the keys below: these are not about a runtime (the Node
    // bundle serves in the tests around them), and it starts in a third of the CPU time.
    const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], { home: fx.home, runtime: 'binary' })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without an API key/)
    expect(result.stdout).toBe('')
  })

  it('takes keys from --api-key (repeatable) and QWENAUTH_API_KEYS', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'keys@example.com')
    const served = await startServe(['--api-key', 'sk-flag-one-111111', '--api-key=sk-flag-two-222222'], 'binary', { QWENAUTH_API_KEYS: 'sk-env-key-333333, sk-env-key-444444' })
    const models = (key?: string) => fetch(`${served.baseUrl}/models`, key ? { headers: { authorization: `Bearer ${key}` } } : {})
    expect((await models()).status).toBe(401)
    for (const key of ['sk-flag-one-111111', 'sk-flag-two-222222', 'sk-env-key-333333', 'sk-env-key-444444']) expect((await models(key)).status).toBe(200)
    served.child.kill('SIGINT')
    expect(await served.exited).toBe(0)
  })

  for (const runtime of ['node', 'binary'] as const) {
    it(`streams as events arrive and aborts the upstream when the client leaves (${runtime})`, async () => {
      fx = await proxyFixture({ streamDelayMs: 150 })
      await loginAs(fx, 'stream@example.com')
      const served = await startServe([], runtime)
      const controller = new AbortController()
      const res = await post(served.baseUrl, chatRequest({ stream: true }), controller.signal)
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      const first = new TextDecoder().decode((await reader.read()).value)
      // The first event arrives alone, 150 ms before the upstream writes the second: a proxy
      // that buffered would hand over several events (or the whole answer) in one read.
      expect(first).toMatch(/^data: \{.*"role":"assistant"/)
      expect(first).not.toContain('Hello')
      const second = new TextDecoder().decode((await reader.read()).value)
      expect(second).toMatch(/^data: \{.*"content":"Hello/)
      controller.abort()
      await waitFor(() => fx.emu.abortedRequests === 1, 3000, 'the upstream abort')
      // The log line is written when the proxy sees the close, which may trail the upstream abort.
      const logLine = /POST \/v1\/chat\/completions stream@example\.com client-closed/
      await waitFor(() => logLine.test(served.stderr()), 3000, 'the request log line')
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)
    })
  }
})
