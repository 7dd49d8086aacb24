/**
 * Review finding: `GET /v1/responses/{id}` decodes the id with `decodeURIComponent`, which throws
 * on a malformed escape (`%E0%A4%A`). The throw escapes the protocol and the app answers
 * `500 internal_error` ("qwenauth failed on this request: URI malformed") and logs an error,
 * where a response that cannot exist is a 404 `response_not_found` (or a 400).
 */
import { afterEach, expect, it } from 'vitest'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(async () => {
  await fx?.cleanup()
})

it('a malformed id is a client error, not a 500', async () => {
  fx = await proxyFixture()
  await addKeyAccount(fx, 'sk-review-account-0000000000')
  const app = proxyApp(fx)
  const res = await app.fetch(new Request('http://127.0.0.1:8787/v1/responses/resp_%E0%A4%A'))
  const body = (await res.json()) as { error: { code: string } }
  expect(res.status).toBeLessThan(500)
  expect(body.error.code).not.toBe('internal_error')
})
