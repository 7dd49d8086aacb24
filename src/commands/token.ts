import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import { freshAccount } from '../pool/fresh-account.ts'
import { accountArg, pickAccount, printOut } from './_shared.ts'

export interface TokenOptions {
  account?: string
}

/** A credential valid right now: the refreshed access token, or an account's API key. */
export async function runToken(options: TokenOptions): Promise<string> {
  const ctx = createContext()
  const account = pickAccount(await ctx.accounts.read(), options.account)
  const fresh = await freshAccount(ctx, account.id, { signal: interruptSignal })
  return (fresh.kind === 'api-key' ? fresh.apiKey : fresh.accessToken) ?? ''
}

export default defineCommand({
  meta: { name: 'token', description: 'Print a valid access token (refreshed if needed) on stdout, for scripts' },
  args: { ...accountArg },
  async run({ args }) {
    printOut(await runToken({ ...(args.account ? { account: args.account } : {}) }))
  },
})
