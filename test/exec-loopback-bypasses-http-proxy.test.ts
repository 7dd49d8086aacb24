/**
 * `exec` hands the program a private proxy on 127.0.0.1. Where the user's environment names an
 * HTTP proxy (`http_proxy`, `HTTP_PROXY`: a corporate network, a sandbox) and its NO_PROXY does
 * not list the loopback address, curl, Python (urllib, requests, httpx: the OpenAI SDK) and
 * Claude Code send their requests for that loopback URL to the HTTP proxy instead, one-time key
 * included: the proxy answers for its own 127.0.0.1 (an error), and the run fails. The program's
 * environment must keep the loopback address out of the proxy.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { loggedIn, type LoggedIn } from './helpers/exec-fixtures.ts'
import { runInProcess } from './helpers/in-process.ts'

let fx: LoggedIn
let trap: { url: string; seen: string[]; close: () => Promise<void> }

beforeEach(async () => {
  fx = await loggedIn()
  const seen: string[] = []
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`)
    res.writeHead(502).end('the corporate proxy cannot reach that')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  trap = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) }
})
afterEach(async () => {
  await trap.close()
  await fx.cleanup()
})

it("keeps the private proxy's loopback address out of an HTTP proxy the environment names", async () => {
  const out = join(fx.home, 'models.json')
  // curl honours http_proxy for http:// URLs and bypasses it only for what NO_PROXY lists.
  const script = `curl -s -f -o '${out}' -H "Authorization: Bearer $OPENAI_API_KEY" "$OPENAI_BASE_URL/models"`
  const result = await runInProcess(['exec', '--', 'sh', '-c', script], {
    home: fx.home,
    env: { ...fx.env, http_proxy: trap.url, HTTP_PROXY: trap.url, NO_PROXY: 'internal.example.com', no_proxy: undefined },
  })
  expect(trap.seen).toEqual([])
  expect(result.code).toBe(0)
  expect(JSON.parse(readFileSync(out, 'utf8')).data.length).toBeGreaterThan(0)
})

it('leaves a NO_PROXY of `*` meaning every host (curl and Python take `*` as a wildcard only when it stands alone)', async () => {
  const direct = createServer((_req, res) => res.writeHead(200).end('reached directly'))
  await new Promise<void>((resolve) => direct.listen(0, '127.0.0.1', resolve))
  try {
    const out = join(fx.home, 'direct.txt')
    // Another host name than the private proxy's: NO_PROXY=* sends it around the HTTP proxy too.
    const script = `curl -s -f -o '${out}' "http://localhost:${(direct.address() as AddressInfo).port}/"`
    const result = await runInProcess(['exec', '--', 'sh', '-c', script], {
      home: fx.home,
      env: { ...fx.env, http_proxy: trap.url, HTTP_PROXY: trap.url, NO_PROXY: '*', no_proxy: undefined },
    })
    expect(trap.seen).toEqual([])
    expect(result.code).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe('reached directly')
  } finally {
    await new Promise<void>((resolve) => direct.close(() => resolve()))
  }
})
