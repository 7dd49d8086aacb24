import { defineCommand } from 'citty'
import { parseDuration } from '../lib/duration.ts'
import { createContext } from '../context.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import { bearerOf, freshAccount } from '../pool/fresh-account.ts'
import { REFRESH_ENV } from './_environment.ts'
import { withExtras } from './_extras.ts'
import { accountArg, pickAccount, printOut } from './_shared.ts'

export interface TokenOptions {
  account?: string
  /** Refresh when less than this remains (default 30 s, as the official CLI). */
  refreshMarginMs?: number
}

/** A credential valid right now: the refreshed access token, or an account's API key. */
export async function runToken(options: TokenOptions): Promise<string> {
  const ctx = createContext()
  const account = pickAccount(await ctx.accounts.read(), options.account)
  const fresh = await freshAccount(ctx, account.id, {
    signal: interruptSignal,
    ...(options.refreshMarginMs !== undefined ? { marginMs: options.refreshMarginMs } : {}),
  })
  return bearerOf(fresh)
}

export default withExtras(defineCommand({
  meta: { name: 'token', description: 'Print a valid access token (refreshed if needed) on stdout, for scripts' },
  args: {
    ...accountArg,
    'refresh-margin': { type: 'string', description: 'Refresh first when less than this remains (e.g. 10m for a token that must last)', valueHint: 'duration', default: '30s' },
  },
  async run({ args }) {
    printOut(
      await runToken({
        ...(args.account !== undefined ? { account: args.account } : {}),
        refreshMarginMs: parseDuration(args['refresh-margin'] ?? '30s', '--refresh-margin'),
      }),
    )
  },
}), { env: REFRESH_ENV, values: { account: 'account' } })
