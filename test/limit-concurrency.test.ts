/**
 * Review finding (low): a request limit is checked when a request starts but counted only when
 * its answer is over (relay.ts countServed, at the end of a stream). Requests in flight are not
 * counted, so N concurrent requests all pass an account with fewer than N requests left: with
 * `5h=2`, four parallel streams (sub-agents, parallel tool runs) all go to the capped account,
 * which then refuses (or, on the real plan, bills) the two over the limit.
 */
import { afterEach, expect, it } from 'vitest'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

it('a request limit holds for requests in flight at once', async () => {
  fx = await proxyFixture({ streamDelayMs: 30 })
  const capped = await addKeyAccount(fx, 'sk-capped-key-0000000000', 'capped-0001', { limits: [{ window: '5h', unit: 'requests', max: 2 }] })
  const other = await addKeyAccount(fx, 'sk-other-key-00000000000', 'other-0001')
  const app = proxyApp(fx)
  const answers = await Promise.all(Array.from({ length: 4 }, () => app.fetch(chatRequest({ stream: true }))))
  await Promise.all(answers.map((res) => res.text()))
  const used = fx.emu.requests.map((r) => r.auth)
  expect(used.filter((key) => key === capped.apiKey)).toHaveLength(2)
  expect(used.filter((key) => key === other.apiKey)).toHaveLength(2)
})
