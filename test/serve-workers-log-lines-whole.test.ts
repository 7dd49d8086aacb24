/**
 * The workers of `serve --workers N` share one stderr. Their log lines must come out whole (the
 * logger writes whole lines of at most PIPE_BUF bytes for that), also when the reader of that
 * stderr is behind for a moment: then the binary queues the writes and later sends the backlog
 * in writes of its own size, which the kernel may split anywhere, between two workers' bytes.
 */
import type { ChildProcess } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { afterEach, expect, it } from 'vitest'
import { proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { killAll, spawnServe } from './helpers/serve-instances.ts'

let fx: ProxyFixture | undefined
const children: ChildProcess[] = []
afterEach(async () => {
  await killAll(children)
  await fx?.cleanup()
  fx = undefined
})

const PATH = `/x/${'a'.repeat(1500)}`
const ROUNDS = 8
const PER_ROUND = 320
const REQUESTS = ROUNDS * PER_ROUND

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

it('serve --workers: every log line is whole when the stderr reader falls behind', async () => {
  fx = await proxyFixture()
  const served = await spawnServe(['--workers', '3'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, runtime: 'binary', children })
  const origin = served.baseUrl.replace(/\/v1$/, '')
  const requestLines = () => served.stderr().split('\n').filter((line) => line.includes('/x/'))
  for (let round = 0; round < ROUNDS; round++) {
    served.child.stderr?.pause()
    // Sixteen at a time, each on a connection of its own, so both workers log at once.
    for (let i = 0; i < PER_ROUND; i += 16) {
      const statuses = await Promise.all(Array.from({ length: 16 }, (_, j) => get(`${origin}${PATH}?n=${round * PER_ROUND + i + j}`)))
      expect(statuses).toEqual(statuses.map(() => 404))
    }
    served.child.stderr?.resume()
    await waitFor(() => requestLines().length >= (round + 1) * PER_ROUND, 15_000, 'the request lines').catch(() => {})
  }
  const lines = requestLines()
  const whole = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\[info\\] GET ${PATH} - 404 \\d+ms$`)
  const broken = lines.filter((line) => !whole.test(line))
  expect(broken.map((line) => `${line.slice(0, 60)}…${line.slice(-40)} (${line.length} chars)`)).toEqual([])
  expect(lines).toHaveLength(REQUESTS)
}, 90_000)
