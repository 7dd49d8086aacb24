/**
 * Review finding (low, a design question): kept responses are not tied to the client key that
 * made them. With `serve --api-key A --api-key B` (keys handed to different people or tools), a
 * holder of B who learns a response id of A's (ids show in the /metrics route label and in the
 * status page's recent requests, see metrics-route-label.test.ts) reads A's whole conversation
 * with `GET /v1/responses/{id}` and can continue it with `previous_response_id`.
 */
import { afterEach, expect, it } from 'vitest'
import { addKeyAccount, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

const A = 'client-key-a-0123456789'
const B = 'client-key-b-0123456789'

/** A response made with key `A` on `app`, kept; and a reader of it with any key (or none). */
async function keptWith(app: ReturnType<typeof proxyApp>): Promise<(key?: string) => Promise<Response>> {
  const made = await app.fetch(
    new Request('http://127.0.0.1:8787/v1/responses', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${A}` },
      body: JSON.stringify({ model: 'coder-model', input: 'my secret plan' }),
    }),
  )
  expect(made.status).toBe(200)
  const { id } = (await made.json()) as { id: string }
  const read = (key?: string) => app.fetch(new Request(`http://127.0.0.1:8787/v1/responses/${id}`, { headers: key ? { authorization: `Bearer ${key}` } : {} }))
  // Kept in the background: wait until its own key reads it.
  await waitFor(async () => (await read(A)).status === 200, 3000, 'the response to be kept')
  return read
}

it("one client key cannot read or continue another key's kept response", async () => {
  fx = await proxyFixture()
  await addKeyAccount(fx, 'sk-review-account-0000000000')
  const read = await keptWith(proxyApp(fx, { apiKeys: [A, B] }))
  expect((await read(B)).status).toBe(404)
})

it('a keyless proxy has one client, whatever key each sends (SDKs send a placeholder): all read what any made', async () => {
  fx = await proxyFixture()
  await addKeyAccount(fx, 'sk-review-account-0000000000')
  const read = await keptWith(proxyApp(fx))
  expect([(await read(B)).status, (await read()).status]).toEqual([200, 200])
})
