/**
 * Conversations through the Responses API: `previous_response_id` continues a kept response
 * (bounded in count and age; `store: false` keeps none), `GET /v1/responses/{id}` returns it,
 * `item_reference` names kept items, a gone response is a clear 404, and on Redis any
 * instance continues any conversation.
 */
import OpenAI, { type APIError } from 'openai'
import { afterEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { createProxyApp } from '../src/proxy/app.ts'
import { memoryKept, redisKept, type KeptResponses } from '../src/proxy/protocols/responses/kept.ts'
import { loginAs, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { hasRedis, startRedis } from './helpers/redis.ts'
import { sdkFor, upstreamCalls } from './helpers/responses.ts'

let current: ProxyFixture | undefined
afterEach(async () => {
  await current?.cleanup()
  current = undefined
})

async function fixture(): Promise<ProxyFixture> {
  current = await proxyFixture()
  await loginAs(current, 'talk@example.com')
  return current
}

describe('previous_response_id', () => {
  it('continues a conversation: earlier input and output go upstream before the new input, instructions do not carry over', async () => {
    const fx = await fixture()
    const client = sdkFor(proxyApp(fx))
    fx.emu.queueReplies({ text: 'Nice to meet you, Ada.' }, { text: 'Your name is Ada.' })
    const first = await client.responses.create({ model: 'coder-model', instructions: 'Be kind.', input: 'My name is Ada.' })
    const second = await client.responses.create({ model: 'coder-model', previous_response_id: first.id, input: 'What is my name?' })
    expect(second.output_text).toBe('Your name is Ada.')
    expect(second.previous_response_id).toBe(first.id)
    expect(upstreamCalls(fx)[1]?.body.messages).toEqual([
      { role: 'user', content: 'My name is Ada.' },
      { role: 'assistant', content: 'Nice to meet you, Ada.' },
      { role: 'user', content: 'What is my name?' },
    ])
    // Chains go on: the third turn sees all of it.
    await client.responses.create({ model: 'coder-model', previous_response_id: second.id, input: 'Thanks.' })
    expect(upstreamCalls(fx)[2]?.body.messages).toHaveLength(5)
  })

  it('keeps a streamed response too, and GET /v1/responses/{id} returns what was answered', async () => {
    const fx = await fixture()
    const client = sdkFor(proxyApp(fx))
    const stream = client.responses.stream({ model: 'coder-model', input: 'hi' })
    const final = await stream.finalResponse()
    const kept = await client.responses.retrieve(final.id)
    expect(kept).toMatchObject({ id: final.id, status: 'completed', output_text: final.output_text })
    expect(kept.output).toEqual([{ type: 'message', id: final.output[0]?.id, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: final.output_text, annotations: [], logprobs: [] }] }])
  })

  it('answers 404 for a response that is gone or never kept (store: false), naming why', async () => {
    const fx = await fixture()
    const client = sdkFor(proxyApp(fx))
    const unkept = await client.responses.create({ model: 'coder-model', input: 'secret', store: false })
    for (const id of [unkept.id, 'resp_000000000000000000000000']) {
      const error = await client.responses.create({ model: 'coder-model', previous_response_id: id, input: 'more' }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(OpenAI.NotFoundError)
      expect((error as APIError).error).toMatchObject({ type: 'invalid_request_error', code: 'previous_response_not_found' })
      expect((error as APIError).message).toMatch(new RegExp(`response ${id} is not kept by qwenauth \\(in memory\\).*store: false`))
      await expect(client.responses.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError)
    }
    // Only the stored one's request went upstream; the refusals cost nothing.
    expect(fx.emu.requests).toHaveLength(1)
  })

  it('keeps responses no longer than their age limit and no more than their count', async () => {
    const fx = await fixture()
    let clock = Date.now()
    const client = sdkFor(proxyApp(fx, { now: () => clock, keptResponses: { count: 2, maxAgeMs: 60_000 } }))
    const ask = () => client.responses.create({ model: 'coder-model', input: 'hi' })
    const old = await ask()
    clock += 61_000
    await expect(client.responses.retrieve(old.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError)
    const [a, b, c] = [await ask(), await ask(), await ask()]
    await expect(client.responses.retrieve(a.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError)
    expect((await client.responses.retrieve(b.id)).id).toBe(b.id)
    expect((await client.responses.retrieve(c.id)).id).toBe(c.id)
  })
})

describe('item_reference', () => {
  it("resolves references to kept output items (as the AI SDK sends them) and leaves out a reasoning item that is gone", async () => {
    const fx = await fixture()
    const client = sdkFor(proxyApp(fx))
    fx.emu.queueReplies({ text: 'First answer.' })
    const first = await client.responses.create({ model: 'coder-model', input: 'one' })
    await client.responses.create({
      model: 'coder-model',
      input: [{ role: 'user', content: 'one' }, { type: 'item_reference', id: first.output[0]?.id as string }, { type: 'item_reference', id: 'rs_ffffffffffffffffffffffff_0' }, { role: 'user', content: 'two' }],
    })
    expect(upstreamCalls(fx)[1]?.body.messages).toEqual([
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'two' },
    ])
    const error = await client.responses.create({ model: 'coder-model', input: [{ type: 'item_reference', id: 'msg_ffffffffffffffffffffffff_0' }] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.NotFoundError)
    expect((error as APIError).error).toMatchObject({ code: 'item_not_found' })
  })
})

/** Three responses into a store that keeps two: the oldest goes, the newest two stay. */
async function keepsTheNewest(store: KeptResponses): Promise<void> {
  for (const id of ['resp_1', 'resp_2', 'resp_3']) await store.put({ response: { id }, input: [] })
  expect(await store.get('resp_1')).toBeUndefined()
  expect((await store.get('resp_2'))?.response.id).toBe('resp_2')
  expect((await store.get('resp_3'))?.response.id).toBe('resp_3')
}

describe('the kept-response stores', () => {
  it('in memory: bounded in count, and in bytes with the newest always kept', async () => {
    await keepsTheNewest(memoryKept({ count: 2, maxAgeMs: 60_000, maxBytes: 1 << 20, now: Date.now }))
    const small = memoryKept({ count: 100, maxAgeMs: 60_000, maxBytes: 120, now: Date.now })
    await small.put({ response: { id: 'resp_a' }, input: [{ text: 'x'.repeat(60) }] })
    await small.put({ response: { id: 'resp_b' }, input: [{ text: 'y'.repeat(200) }] })
    expect(await small.get('resp_a')).toBeUndefined()
    expect((await small.get('resp_b'))?.response.id).toBe('resp_b')
  })

  it.skipIf(!hasRedis)('on Redis: bounded in count, and in age by the key expiry', async () => {
    const redis = await startRedis()
    const ctx = createContext({ QWENAUTH_STORAGE: redis.url, QWENAUTH_STORAGE_PREFIX: 'kept-test' })
    try {
      const backend = ctx.redis as NonNullable<typeof ctx.redis>
      await keepsTheNewest(redisKept(backend.client, backend.prefix, { count: 2, maxAgeMs: 60_000, maxBytes: 0, now: Date.now }))
      const client = await backend.client()
      expect(await client.zcard('kept-test:responses')).toBe(2)
      const brief = redisKept(backend.client, 'brief', { count: 10, maxAgeMs: 50, maxBytes: 0, now: Date.now })
      await brief.put({ response: { id: 'resp_x' }, input: [] })
      for (let i = 0; i < 50 && (await brief.get('resp_x')); i++) await new Promise((r) => setTimeout(r, 20))
      expect(await brief.get('resp_x')).toBeUndefined()
    } finally {
      await ctx.close()
      await redis.stop()
    }
  })
})

describe.skipIf(!hasRedis)('on Redis', () => {
  it('any instance continues a conversation another one answered', async () => {
    const fx = await fixture()
    const redis = await startRedis()
    const env = { QWENAUTH_STORAGE: redis.url, QWENAUTH_STORAGE_PREFIX: 'responses-test', QWENAUTH_OAUTH_URL: fx.emu.url }
    const [ctxA, ctxB] = [createContext(env), createContext(env)]
    try {
      const account = (await fx.ctx.accounts.read()).accounts[0]
      await ctxA.accounts.update((doc) => void doc.accounts.push(account as never))
      const [appA, appB] = [createProxyApp({ ctx: ctxA, log: () => {} }), createProxyApp({ ctx: ctxB, log: () => {} })]
      fx.emu.queueReplies({ text: 'Noted: 42.' }, { text: 'It was 42.' })
      const first = await sdkFor(appA).responses.create({ model: 'coder-model', input: 'Remember 42.' })
      const clientB = sdkFor(appB)
      // Kept without holding up the answer: give the write a moment.
      for (let i = 0; i < 50 && !(await clientB.responses.retrieve(first.id).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 20))
      const second = await clientB.responses.create({ model: 'coder-model', previous_response_id: first.id, input: 'What was it?' })
      expect(second.output_text).toBe('It was 42.')
      expect(upstreamCalls(fx).at(-1)?.body.messages.map((m: any) => m.content)).toEqual(['Remember 42.', 'Noted: 42.', 'What was it?'])
      await Promise.all([appA.close(), appB.close()])
    } finally {
      await Promise.all([ctxA.close(), ctxB.close()])
      await redis.stop()
    }
  })
})
