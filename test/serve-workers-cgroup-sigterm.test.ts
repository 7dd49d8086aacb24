/**
 * `systemctl stop` with the default KillMode=control-group (examples/qwenauth.service keeps it)
 * sends SIGTERM to every process of the unit: the primary of `serve --workers N` and each
 * worker. The primary passes its SIGTERM on as well, so each worker gets two; that must still be
 * the one drain SIGTERM promises (requests in flight finish), not the "second signal: exit now".
 */
import type { ChildProcess } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { afterEach, expect, it } from 'vitest'
import { chatRequest, loginAs, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { killAll, spawnServe } from './helpers/serve-instances.ts'

let fx: ProxyFixture | undefined
const children: ChildProcess[] = []
afterEach(async () => {
  await killAll(children)
  await fx?.cleanup()
  fx = undefined
})

function freshRequest(url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

it('serve --workers: SIGTERM to the whole unit (primary and workers) still lets requests in flight finish', async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'cgroup@example.com')
  const served = await spawnServe(['--workers', '2'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, runtime: 'binary', children })
  const pids = (/workers answer on \S+ \(pids ([\d, ]+)\)/.exec(served.stderr())?.[1] ?? '').split(', ').map(Number).filter(Boolean)
  expect(pids).toHaveLength(2)
  fx.emu.delayNextResponse(1500)
  const slow = freshRequest(`${served.baseUrl}/chat/completions`, await chatRequest({}).text())
  await waitFor(() => fx?.emu.requests.length === 1, 3000, 'the slow request upstream')
  // What systemd does on stop: SIGTERM to every process in the unit's cgroup. The primary's
  // reaches the workers first here (two signals that arrive together may merge into one).
  served.child.kill('SIGTERM')
  const draining = () => served.stderr().match(/SIGTERM: finishing requests in flight/g)?.length ?? 0
  await waitFor(() => draining() === 2, 5000, 'both workers draining on the SIGTERM passed on')
  // A worker with nothing in flight has already stopped; the one with the slow request drains.
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
  }
  const answer = await slow.catch((error: Error) => ({ status: 0, text: error.message }))
  expect(answer.status).toBe(200)
  expect(await served.exited).toBe(0)
}, 30_000)
