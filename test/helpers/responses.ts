import OpenAI from 'openai'
import type { ProxyApp } from '../../src/proxy/app.ts'
import type { Account } from '../../src/store/account-model.ts'
import type { ProxyFixture } from './proxy-fixtures.ts'

/** The official SDK talking to an in-process proxy app (no server, no retries). */
export function sdkFor(app: ProxyApp, apiKey = 'unused-key'): OpenAI {
  return new OpenAI({
    baseURL: 'http://127.0.0.1:8787/v1',
    apiKey,
    maxRetries: 0,
    timeout: 10_000,
    fetch: (url, init) => app.fetch(new Request(url as string, init as RequestInit)),
  })
}

/** A DashScope pay-as-you-go key account (the provider that serves /responses itself) on the emulator, placed first or last. */
export async function addDashScopeAccount(fx: ProxyFixture, key: string, where: 'first' | 'last' = 'last', keyState: 'ok' | 'quota' = 'ok'): Promise<Account> {
  fx.emu.addApiKey(key, keyState)
  const now = Date.now()
  const account: Account = { id: 'dashscope-1a2b', label: 'dashscope', kind: 'api-key', provider: 'dashscope', baseUrl: `${fx.emu.url}/v1`, apiKey: key, status: 'ok', createdAt: now, updatedAt: now }
  await fx.ctx.accounts.update((doc) => void (doc.accounts = where === 'first' ? [account, ...doc.accounts] : [...doc.accounts, account]))
  return account
}

/** What the emulator got: path and JSON body of each /v1 request. */
export function upstreamCalls(fx: ProxyFixture): Array<{ path: string; body: any }> {
  return fx.emu.requests.map((r) => ({ path: r.path, body: r.body }))
}

/** The types of the events of a raw SSE text, and their sequence numbers. */
export function sseEvents(text: string): Array<{ event: string; data: any }> {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? ''
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null'
      return { event, data: JSON.parse(data) }
    })
}
