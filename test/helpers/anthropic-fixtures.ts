import Anthropic from '@anthropic-ai/sdk'
import type { ProxyApp } from '../../src/proxy/app.ts'
import type { Account } from '../../src/store/account-model.ts'
import { addKeyAccount, type ProxyFixture } from './proxy-fixtures.ts'

/** A key account whose provider also serves the Anthropic API (the emulator's /apps/anthropic), appended last in the pool. */
export function addNativeAccount(fx: ProxyFixture, key: string, id = 'native-1'): Promise<Account> {
  return addKeyAccount(fx, key, id, { label: `anthropic key ${id}`, anthropicBaseUrl: `${fx.emu.url}/apps/anthropic` })
}

/** The official SDK talking to the proxy app in-process (no socket), retries off. */
export function anthropicClient(app: ProxyApp, key = 'sk-client-key'): Anthropic {
  return new Anthropic({
    baseURL: 'http://127.0.0.1:8787',
    apiKey: key,
    maxRetries: 0,
    fetch: (input, init) => app.fetch(new Request(input as string, init as RequestInit)),
  })
}

/** The events of an SSE body as [type, data] pairs, in order. */
export function sseEvents(text: string): Array<[string, any]> {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const type = /^event: (.*)$/m.exec(block)?.[1] ?? ''
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null'
      return [type, JSON.parse(data)]
    })
}

export function messagesRequest(body: Record<string, unknown>, headers: Record<string, string> = {}, path = '/v1/messages'): Request {
  return new Request(`http://127.0.0.1:8787${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify({ model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }], ...body }),
  })
}
