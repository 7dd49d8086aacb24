/**
 * Review finding (low): a request limit is checked when a request starts but counted only when
 * its answer is over (relay.ts countServed, at the end of a stream). Requests in flight are not
 * counted, so N concurrent requests all pass an account with fewer than N requests left: with
 * `5h=2`, four parallel streams (sub-agents, parallel tool runs) all go to the capped account,
 * which then refuses (or, on the real plan, bills) the two over the limit.
 */
import { afterEach, expect, it } from 'vitest'
import { readStats } from '../src/store/stats.ts'
import { windowUsage } from '../src/store/usage-windows.ts'
import { quotaClock } from '../src/pool/limits.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

it('a request limit holds for requests in flight at once', async () => {
  fx = await proxyFixture({ streamDelayMs: 30 })
  const capped = await addKeyAccount(fx, 'sk-capped-key-0000000000', 'capped-0001', { limits: [{ window: '5h', unit: 'requests', max: 2 }] })
  const other = await addKeyAccount(fx, 'sk-other-key-00000000000', 'other-0001')
  const app = proxyApp(fx)
  const answers = await Promise.all(Array.from({ length: 4 }, () => app.fetch(chatRequest({ stream: true, stream_options: { include_usage: true } }))))
  await Promise.all(answers.map((res) => res.text()))
  const used = fx.emu.requests.map((r) => r.auth)
  expect(used.filter((key) => key === capped.apiKey)).toHaveLength(2)
  expect(used.filter((key) => key === other.apiKey)).toHaveLength(2)
  // Counted once each when their answers ended, tokens included: the holds did not add to that.
  await app.close()
  const counted = (await readStats(fx.ctx.storage))[capped.id]
  expect(counted).toMatchObject({ requests: 2, failures: 0 })
  expect(counted!.promptTokens + counted!.completionTokens).toBeGreaterThan(0)
  const window = windowUsage(counted!.usage, '5h', quotaClock(capped), Date.now())
  expect(window.requests).toBe(2)
  expect(window.tokens).toBe(counted!.promptTokens + counted!.completionTokens)
})

it("a request that ends uncounted (the upstream failed, the client left) gives its place under the limit back", async () => {
  fx = await proxyFixture()
  const capped = await addKeyAccount(fx, 'sk-capped-key-0000000000', 'capped-0001', { limits: [{ window: '5h', unit: 'requests', max: 1 }] })
  const other = await addKeyAccount(fx, 'sk-other-key-00000000000', 'other-0001')
  const app = proxyApp(fx)
  const sentTo = () => fx.emu.requests.map((r) => (r.auth === capped.apiKey ? 'capped' : r.auth === other.apiKey ? 'other' : r.auth))

  // A 500 from the capped account: not served, so not in its window; the other account answers.
  fx.emu.failNextRequests(1, 500)
  expect((await app.fetch(chatRequest({}))).status).toBe(200)
  expect(sentTo()).toEqual(['capped', 'other'])

  // The client leaves while the capped account has yet to answer: nothing served, nothing counted.
  fx.emu.delayNextResponse(5_000)
  const client = new AbortController()
  const leaving = app.fetch(chatRequest({}, { signal: client.signal }))
  await waitFor(() => fx.emu.requests.length === 3, 3000, 'the request at the upstream')
  client.abort()
  await leaving.then((res) => res.text()).catch(() => {})

  // Its one request is still free: the next goes to it, and the one after to the other account.
  expect((await app.fetch(chatRequest({}))).status).toBe(200)
  expect((await app.fetch(chatRequest({}))).status).toBe(200)
  expect(sentTo()).toEqual(['capped', 'other', 'capped', 'capped', 'other'])
})

it("a stream's place under the limit is taken once: its count at the end replaces its hold", async () => {
  fx = await proxyFixture()
  const capped = await addKeyAccount(fx, 'sk-capped-key-0000000000', 'capped-0001', { limits: [{ window: '5h', unit: 'requests', max: 2 }] })
  const other = await addKeyAccount(fx, 'sk-other-key-00000000000', 'other-0001')
  const app = proxyApp(fx)
  for (let i = 0; i < 3; i++) await (await app.fetch(chatRequest({ stream: true }))).text()
  const sentTo = fx.emu.requests.map((r) => (r.auth === capped.apiKey ? 'capped' : r.auth === other.apiKey ? 'other' : r.auth))
  expect(sentTo).toEqual(['capped', 'capped', 'other'])
})
