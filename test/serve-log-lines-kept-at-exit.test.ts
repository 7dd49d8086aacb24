/**
 * serve's request log must keep every line when it stops, also when whatever reads its stderr
 * (journald, a `docker logs` pipe, a supervisor) is behind: the lines written so far are still
 * owed to it. The compiled binary writes stderr asynchronously to a pipe; `serve` then ends
 * with process.exit, and the exit handler's writeSync meets a full, non-blocking pipe (EAGAIN).
 */
import { afterEach, expect, it } from 'vitest'
import { proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { endedAfterEachTest, spawnServe } from './helpers/serve-instances.ts'

let fx: ProxyFixture | undefined
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
})
const { children } = endedAfterEachTest()

/** Long paths make long lines: the pipe (64 KiB) fills after a few dozen. */
const PATH = `/x/${'a'.repeat(1500)}`
const REQUESTS = 200

it('serve (binary): every request line reaches a stderr reader that was behind when serve stopped', async () => {
  fx = await proxyFixture()
  const served = await spawnServe([], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, runtime: 'binary', children })
  const origin = served.baseUrl.replace(/\/v1$/, '')
  // The reader falls behind: nothing more is read from serve's stderr for now.
  served.child.stderr?.pause()
  for (let i = 0; i < REQUESTS; i++) expect((await fetch(`${origin}${PATH}?n=${i}`)).status).toBe(404)
  // Let the last lines be handed to stderr before the stop.
  await new Promise((resolve) => setTimeout(resolve, 200))
  served.child.kill('SIGTERM')
  // The reader catches up only once serve is stopping: whatever it has not taken by then is
  // still owed to it.
  await new Promise((resolve) => setTimeout(resolve, 500))
  served.child.stderr?.resume()
  const code = await served.exited
  await new Promise((resolve) => (served.child.stderr?.readableEnded ? resolve(undefined) : served.child.stderr?.once('end', resolve)))
  expect(code).toBe(0)
  const lines = served.stderr().split('\n').filter((line) => line.includes(`GET ${PATH}`))
  expect(lines).toHaveLength(REQUESTS)
  expect(served.stderr()).toMatch(/\bstopped\n/)
}, 60_000)
