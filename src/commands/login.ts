import { defineCommand } from 'citty'
import { runOAuthLogin } from '../auth/oauth-login.ts'
import { createContext } from '../context.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import type { Account } from '../store/account.ts'
import { jsonArg, printOut } from './_shared.ts'

export interface LoginOptions {
  browser?: boolean
}

export async function runLogin(options: LoginOptions): Promise<Account> {
  const ctx = createContext()
  const browser = options.browser !== false && process.env.QWENAUTH_NO_BROWSER !== '1'
  return runOAuthLogin(ctx, { browser, signal: interruptSignal })
}

export default defineCommand({
  meta: { name: 'login', description: 'Log in to Qwen with the OAuth device flow (works without a browser on this machine)' },
  args: {
    browser: { type: 'boolean', default: true, description: 'Open a browser where one can be opened', negativeDescription: 'Never open a browser; show the URL, code and QR code only' },
    ...jsonArg,
  },
  async run({ args }) {
    const account = await runLogin({ browser: args.browser })
    if (args.json) printOut(JSON.stringify({ id: account.id, label: account.label, provider: account.provider }))
  },
})
