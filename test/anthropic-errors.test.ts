import Anthropic from '@anthropic-ai/sdk'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { anthropicClient, messagesRequest } from './helpers/anthropic-fixtures.ts'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

// Every error on the Anthropic routes has Anthropic's shape and a status clients act on rightly;
// Claude Code is told not to retry where waiting cannot help.

const KEY = 'sk-serve-0123456789'
let fx: ProxyFixture

beforeEach(async () => {
  fx = await proxyFixture()
})
afterEach(async () => {
  await fx.cleanup()
})

async function errorOf(response: Response): Promise<{ status: number; type: string; message: string; retry: string | null; after: string | null }> {
  const body = (await response.json()) as { type: string; error: { type: string; message: string } }
  expect(body.type).toBe('error')
  return { status: response.status, type: body.error.type, message: body.error.message, retry: response.headers.get('x-should-retry'), after: response.headers.get('retry-after') }
}

describe('Anthropic-shaped errors', () => {
  it('takes the client key as x-api-key or Bearer; refuses a missing or wrong one with 401 and no retry', async () => {
    await addKeyAccount(fx, 'sk-up')
    const app = proxyApp(fx, { apiKeys: [KEY] })
    expect((await app.fetch(messagesRequest({}, { 'x-api-key': KEY }))).status).toBe(200)
    expect((await app.fetch(messagesRequest({}, { authorization: `Bearer ${KEY}` }))).status).toBe(200)
    expect(await errorOf(await app.fetch(messagesRequest({})))).toMatchObject({ status: 401, type: 'authentication_error', retry: 'false', message: expect.stringMatching(/an API key is required/) })
    await expect(anthropicClient(app, 'wrong').messages.create({ model: 'claude-haiku-5-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError)
  })

  it('answers bad input: 400 for a request without messages, 415, 405, and a 404 that explains a base URL ending in /v1', async () => {
    await addKeyAccount(fx, 'sk-up')
    const app = proxyApp(fx)
    const noMessages = new Request('http://127.0.0.1:8787/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"claude-opus-5-5","max_tokens":5}' })
    expect(await errorOf(await app.fetch(noMessages))).toMatchObject({ status: 400, type: 'invalid_request_error', message: 'messages: Field required (an array of {role, content})' })
    const form = new Request('http://127.0.0.1:8787/v1/messages', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })
    expect(await errorOf(await app.fetch(form))).toMatchObject({ status: 415, type: 'invalid_request_error' })
    expect(await errorOf(await app.fetch(new Request('http://127.0.0.1:8787/v1/messages')))).toMatchObject({ status: 405, type: 'invalid_request_error' })
    const doubled = await errorOf(await app.fetch(messagesRequest({}, {}, '/v1/v1/messages?beta=true')))
    expect(doubled).toMatchObject({ status: 404, type: 'not_found_error' })
    expect(doubled.message).toMatch(/ANTHROPIC_BASE_URL is the address without \/v1/)
  })

  it("translates a chat upstream's refusal of the request into Anthropic's shape, keeping its words", async () => {
    await addKeyAccount(fx, 'sk-up')
    const app = proxyApp(fx)
    const answer = await errorOf(await app.fetch(messagesRequest({ model: 'qwen-no-such-model' })))
    expect(answer).toMatchObject({ status: 404, type: 'not_found_error', message: 'model not found' })
  })

  it('says why no account can serve: 503 without accounts, 429 with retry-after while all cool down, 502 when the upstream fails', async () => {
    const app = proxyApp(fx)
    expect(await errorOf(await app.fetch(messagesRequest({})))).toMatchObject({ status: 503, type: 'api_error', retry: 'false', message: expect.stringMatching(/qwenauth has no accounts/) })

    await addKeyAccount(fx, 'sk-up')
    const served = proxyApp(fx)
    fx.emu.failNextRequests(3, 500)
    expect(await errorOf(await served.fetch(messagesRequest({})))).toMatchObject({ status: 502, type: 'api_error', retry: null })

    fx.emu.setApiKeyState('sk-up', 'quota')
    const limited = await errorOf(await served.fetch(messagesRequest({})))
    expect(limited).toMatchObject({ status: 429, type: 'rate_limit_error', retry: null })
    expect(Number(limited.after)).toBeGreaterThan(0)
  })

  it('answers 403 permission_error without retries when every account needs the user', async () => {
    fx.emu.addApiKey('sk-known')
    await addKeyAccount(fx, 'sk-up')
    fx.emu.setApiKeyState('sk-up', 'ok')
    const doc = await fx.ctx.accounts.read()
    await fx.ctx.accounts.update((d) => void (d.accounts[0] = { ...doc.accounts[0]!, apiKey: 'sk-revoked' }))
    const app = proxyApp(fx)
    expect(await errorOf(await app.fetch(messagesRequest({})))).toMatchObject({ status: 403, type: 'permission_error', retry: 'false' })
  })
})
