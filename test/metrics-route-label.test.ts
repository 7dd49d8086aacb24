/**
 * Review finding: `GET /v1/responses/{id}` records the concrete path as the route, so every id a
 * client sends (found or not) becomes its own `route` label in `qwenauth_requests_total`: the
 * metrics grow without bound in memory and in every scrape, and with `--metrics-public` anyone
 * who can scrape learns the ids of kept responses (the only thing that guards their content).
 */
import { afterEach, expect, it } from 'vitest'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const KEY = 'sk-client-key-review-1111'
let fx: ProxyFixture
afterEach(async () => {
  await fx?.cleanup()
})

it('GET /v1/responses/{id} is labelled by its route pattern, not by the id', async () => {
  fx = await proxyFixture()
  await addKeyAccount(fx, 'sk-review-account-0000000000')
  const app = proxyApp(fx, { apiKeys: [KEY] })
  for (let i = 0; i < 5; i++) {
    const res = await app.fetch(new Request(`http://127.0.0.1:8787/v1/responses/resp_${String(i).padStart(24, '0')}`, { headers: { authorization: `Bearer ${KEY}` } }))
    expect(res.status).toBe(404)
  }
  const scrape = await app.fetch(new Request('http://127.0.0.1:8787/metrics', { headers: { authorization: `Bearer ${KEY}` } }))
  const text = await scrape.text()
  const series = text.split('\n').filter((line) => line.startsWith('qwenauth_requests_total{'))
  expect(text).not.toContain('resp_0000')
  expect(series).toHaveLength(1)
})
