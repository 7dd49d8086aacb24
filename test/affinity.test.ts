/**
 * `--affinity`: a conversation's requests go to the account that served it before while that
 * account is usable (keyed by `prompt_cache_key`, else its opening messages), so the provider's
 * prompt cache keeps serving it; the map of conversations is bounded in count and age.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { AffinityMap } from '../src/pool/affinity.ts'
import { openaiPassthrough } from '../src/proxy/protocols/openai.ts'
import { isProxyError, type AppServices, type Plan } from '../src/proxy/protocols/protocol.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

describe('the conversation key', () => {
  const keyOf = (json: Record<string, unknown>, kind: 'chat' | 'embeddings' = 'chat') => {
    // The passthrough protocol asks nothing of the app.
    const app = {} as AppServices
    const plan = openaiPassthrough('/chat/completions', kind).plan({ path: '/v1/chat/completions', search: '', body: { text: JSON.stringify(json), json }, headers: new Headers(), app })
    return isProxyError(plan) ? 'error' : (plan as Plan).affinityKey
  }
  const system = { role: 'system', content: 'You are a coding agent.' }
  const first = { role: 'user', content: 'Fix the tests.' }
  const opening = keyOf({ messages: [system, first] })

  it.each<[string, Record<string, unknown>, 'same' | 'other' | 'none']>([
    ['a later turn of the same conversation', { messages: [system, first, { role: 'assistant', content: 'Done.' }, { role: 'user', content: 'Thanks' }] }, 'same'],
    ['another opening question', { messages: [system, { role: 'user', content: 'Write docs.' }] }, 'other'],
    ['another system prompt', { messages: [{ role: 'system', content: 'You review code.' }, first] }, 'other'],
    ['no user message yet', { messages: [system] }, 'none'],
  ])('%s', (_name, json, expected) => {
    const key = keyOf(json)
    if (expected === 'none') expect(key).toBeUndefined()
    else if (expected === 'same') expect(key).toBe(opening)
    else expect(key).not.toBe(opening)
  })

  it("a client's prompt_cache_key wins, and only chat completions have a key", () => {
    expect(keyOf({ prompt_cache_key: 'session-42', messages: [system, first] })).toBe('key:session-42')
    expect(keyOf({ prompt_cache_key: 'session-42', messages: [] })).toBe('key:session-42')
    expect(keyOf({ model: 'text-embedding-v4', input: 'x' }, 'embeddings')).toBeUndefined()
  })
})

describe('the map of conversations', () => {
  it('forgets the least recently used beyond its size, and conversations idle past its age', () => {
    const map = new AffinityMap(2, 1000)
    map.set('a', 'acc-1', 0)
    map.set('b', 'acc-2', 10)
    expect(map.get('a', 20)).toBe('acc-1')
    map.set('a', 'acc-1', 30)
    map.set('c', 'acc-3', 40)
    expect([map.get('a', 50), map.get('b', 50), map.get('c', 50), map.size]).toEqual(['acc-1', undefined, 'acc-3', 2])
    expect(map.get('a', 1031)).toBeUndefined()
    map.set('d', 'acc-4', 2000)
    expect([map.get('c', 2000), map.get('d', 2000), map.size]).toEqual([undefined, 'acc-4', 1])
  })
})

describe('requests with --affinity', () => {
  let fx: ProxyFixture
  afterEach(() => fx.cleanup())

  const conversation = (name: string, turn: number) =>
    chatRequest({ messages: [{ role: 'user', content: `conversation ${name}` }, ...Array.from({ length: turn }, (_, i) => ({ role: 'assistant', content: `answer ${i}` }))] })
  const accountsUsed = () => fx.emu.requests.map((r) => r.auth)

  it('round-robin spreads conversations, and each stays on its account; without affinity they hop', async () => {
    fx = await proxyFixture()
    const a = await addKeyAccount(fx, 'sk-affinity-a-0000000000', 'a-0001')
    const b = await addKeyAccount(fx, 'sk-affinity-b-0000000000', 'b-0001')
    const sticky = proxyApp(fx, { strategy: 'round-robin', affinity: true })
    for (let turn = 0; turn < 3; turn++) {
      for (const name of ['x', 'y']) expect((await sticky.fetch(conversation(name, turn))).status).toBe(200)
    }
    expect(accountsUsed()).toEqual([a.apiKey, b.apiKey, a.apiKey, b.apiKey, a.apiKey, b.apiKey])

    fx.emu.reset()
    const hopping = proxyApp(fx, { strategy: 'round-robin' })
    for (let turn = 0; turn < 3; turn++) expect((await hopping.fetch(conversation('x', turn))).status).toBe(200)
    expect(accountsUsed()).toEqual([a.apiKey, b.apiKey, a.apiKey])
  })

  it('a conversation moved by failover stays where it went, even when its first account is back', async () => {
    fx = await proxyFixture()
    const a = await addKeyAccount(fx, 'sk-affinity-a-0000000000', 'a-0001')
    const b = await addKeyAccount(fx, 'sk-affinity-b-0000000000', 'b-0001')
    let clock = Date.now()
    const app = proxyApp(fx, { affinity: true, quotaCooldownMs: 1000, now: () => clock })
    fx.emu.setApiKeyState(a.apiKey!, 'quota')
    expect((await app.fetch(conversation('x', 0))).status).toBe(200)
    fx.emu.setApiKeyState(a.apiKey!, 'ok')
    clock += 2000
    fx.emu.reset()
    expect((await app.fetch(conversation('x', 1))).status).toBe(200)
    // A new conversation starts on the active account again.
    expect((await app.fetch(conversation('z', 0))).status).toBe(200)
    expect(accountsUsed()).toEqual([b.apiKey, a.apiKey])
  })

  it("the conversation's account, once unusable, is passed over", async () => {
    fx = await proxyFixture()
    const a = await addKeyAccount(fx, 'sk-affinity-a-0000000000', 'a-0001')
    const b = await addKeyAccount(fx, 'sk-affinity-b-0000000000', 'b-0001')
    const app = proxyApp(fx, { affinity: true })
    expect((await app.fetch(conversation('x', 0))).status).toBe(200)
    fx.emu.setApiKeyState(a.apiKey!, 'quota')
    expect((await app.fetch(conversation('x', 1))).status).toBe(200)
    expect((await app.fetch(conversation('x', 2))).status).toBe(200)
    expect(accountsUsed()).toEqual([a.apiKey, a.apiKey, b.apiKey, b.apiKey])
  })
})
