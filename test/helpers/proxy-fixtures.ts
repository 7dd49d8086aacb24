import { pollForTokens, requestDeviceAuthorization } from '../../src/auth/oauth/device-flow.ts'
import { saveOAuthLogin } from '../../src/auth/oauth/save-login.ts'
import { createContext, type Context } from '../../src/context.ts'
import { createProxyApp, type ProxyApp } from '../../src/proxy/app.ts'
import type { ProxyAppOptions } from '../../src/proxy/options.ts'
import type { Account } from '../../src/store/account-model.ts'
import { startEmulator, type Emulator, type EmulatorOptions } from '../fixtures/qwen-emulator.ts'
import { tempHome } from './cli.ts'

/** An emulator, a private QWEN_HOME and a context on it; `cleanup` undoes all of it. */
export interface ProxyFixture {
  emu: Emulator
  home: string
  ctx: Context
  apps: ProxyApp[]
  cleanup(): Promise<void>
}

/** `storage`: a store other than the private QWEN_HOME (a Redis URL), as QWENAUTH_STORAGE would name it. */
export async function proxyFixture(options: EmulatorOptions = {}, storage?: string): Promise<ProxyFixture> {
  const emu = await startEmulator({ autoApprove: true, interval: 0.02, ...options })
  const { home, cleanup: removeHome } = tempHome()
  const ctx = createContext({ QWEN_HOME: home, QWENAUTH_OAUTH_URL: emu.url, ...(storage ? { QWENAUTH_STORAGE: storage } : {}) })
  const apps: ProxyApp[] = []
  return {
    emu,
    home,
    ctx,
    apps,
    async cleanup() {
      await Promise.all(apps.splice(0).map((a) => a.close()))
      await ctx.close()
      await emu.close()
      removeHome()
    },
  }
}

/** A real device-flow login against the emulator, in-process; the new account becomes active. */
export async function loginAs(fx: ProxyFixture, email: string): Promise<Account> {
  fx.emu.setNextEmail(email)
  const auth = await requestDeviceAuthorization(fx.ctx.oauthUrl)
  return saveOAuthLogin(fx.ctx, await pollForTokens(fx.ctx.oauthUrl, auth))
}

/** A key account for the emulator's /v1, appended last in the pool; `fields` make it a preset's (provider, limits, …). */
export async function addKeyAccount(fx: ProxyFixture, key: string, id = 'key-1', fields: Partial<Account> = {}): Promise<Account> {
  fx.emu.addApiKey(key)
  const now = Date.now()
  const account: Account = {
    id,
    label: `custom key ${id}`,
    kind: 'api-key',
    provider: 'custom',
    baseUrl: `${fx.emu.url}/v1`,
    apiKey: key,
    status: 'ok',
    createdAt: now,
    updatedAt: now,
    ...fields,
  }
  await fx.ctx.accounts.update((doc) => void doc.accounts.push(account))
  return account
}

export function proxyApp(fx: ProxyFixture, options: Omit<ProxyAppOptions, 'ctx'> & { lines?: string[] } = {}): ProxyApp {
  const { lines, ...rest } = options
  const app = createProxyApp({ ctx: fx.ctx, poolRefreshMs: 50, log: (line) => lines?.push(line), ...rest })
  fx.apps.push(app)
  return app
}

export function chatRequest(body: Record<string, unknown>, init: { key?: string; signal?: AbortSignal; headers?: Record<string, string> } = {}): Request {
  return new Request('http://127.0.0.1:8787/v1/chat/completions', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...init.headers,
    },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }], ...body }),
    ...(init.signal ? { signal: init.signal } : {}),
  })
}

export function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await check()) return resolve()
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(tick, 10)
    }
    void tick()
  })
}
