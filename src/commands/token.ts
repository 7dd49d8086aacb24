import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { durationFlag, parseDuration } from '../lib/duration.ts'
import { interruptSignal } from '../lib/interrupt.ts'
import { AccountPool } from '../pool/pool.ts'
import { bearerOf } from '../store/account-model.ts'
import { REFRESH_ENV } from './_environment.ts'
import { withExtras } from './_extras.ts'
import { accountArg, printOut } from './_shared.ts'

export interface TokenOptions {
  account?: string
  /** Refresh when less than this remains (default 30 s, as the official CLI). */
  refreshMarginMs?: number
}

/** A credential valid right now: the refreshed access token, or an account's API key. */
export async function runToken(options: TokenOptions): Promise<string> {
  const ctx = createContext()
  try {
    const pool = new AccountPool(ctx)
    const account = await pool.handout(options.account)
    return bearerOf(await pool.credential(account, { signal: interruptSignal, marginMs: options.refreshMarginMs ?? DEFAULTS.tokenRefreshMarginMs }))
  } finally {
    await ctx.close()
  }
}

export default withExtras(defineCommand({
  meta: { name: 'token', description: 'Print a valid access token (refreshed if needed) on stdout, for scripts' },
  args: {
    ...accountArg,
    'refresh-margin': { type: 'string', description: 'Refresh first when less than this remains (e.g. 10m for a token that must last)', valueHint: 'duration', default: durationFlag(DEFAULTS.tokenRefreshMarginMs) },
  },
  async run({ args }) {
    printOut(
      await runToken({
        ...(args.account !== undefined ? { account: args.account } : {}),
        ...(args['refresh-margin'] ? { refreshMarginMs: parseDuration(args['refresh-margin'], '--refresh-margin') } : {}),
      }),
    )
  },
}), { env: REFRESH_ENV, values: { account: 'account' } })
