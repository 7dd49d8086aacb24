/**
 * Review finding: `--affinity` (README "Affinity", issue 14 "Keeping caches warm") keys only
 * chat completions. `/v1/messages` (Claude Code, `exec --affinity -- claude`) and `/v1/responses`
 * (Codex, which sends `prompt_cache_key` on every turn) plan no affinity key, so their
 * conversations hop between accounts under round-robin and lose the provider's prompt cache.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { messagesRequest } from './helpers/anthropic-fixtures.ts'
import { addKeyAccount, proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

const accountsUsed = () => fx.emu.requests.map((r) => r.auth)

function responsesRequest(body: Record<string, unknown>): Request {
  return new Request('http://127.0.0.1:8787/v1/responses', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'coder-model', ...body }),
  })
}

describe('--affinity beyond chat completions', () => {
  it('keeps a Responses conversation (prompt_cache_key) on one account under round-robin', async () => {
    fx = await proxyFixture()
    const a = await addKeyAccount(fx, 'sk-affinity-a-0000000000', 'a-0001')
    await addKeyAccount(fx, 'sk-affinity-b-0000000000', 'b-0001')
    const app = proxyApp(fx, { strategy: 'round-robin', affinity: true })
    for (let turn = 0; turn < 3; turn++) {
      const res = await app.fetch(responsesRequest({ prompt_cache_key: 'codex-session-1', input: `turn ${turn}`, store: false }))
      expect(res.status).toBe(200)
    }
    expect(accountsUsed()).toEqual([a.apiKey, a.apiKey, a.apiKey])
  })

  it('keeps a Messages conversation (same system prompt and first user turn) on one account under round-robin', async () => {
    fx = await proxyFixture()
    const a = await addKeyAccount(fx, 'sk-affinity-a-0000000000', 'a-0001')
    await addKeyAccount(fx, 'sk-affinity-b-0000000000', 'b-0001')
    const app = proxyApp(fx, { strategy: 'round-robin', affinity: true })
    const first = { role: 'user', content: 'Fix the tests.' }
    for (let turn = 0; turn < 3; turn++) {
      const later = Array.from({ length: turn }, (_, i) => [
        { role: 'assistant', content: `answer ${i}` },
        { role: 'user', content: `more ${i}` },
      ]).flat()
      const res = await app.fetch(messagesRequest({ system: 'You are Claude Code.', messages: [first, ...later] }))
      expect(res.status).toBe(200)
    }
    expect(accountsUsed()).toEqual([a.apiKey, a.apiKey, a.apiKey])
  })
})
