import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { requireAccount, type Account } from '../store/account-model.ts'
import { withExtras } from './_extras.ts'
import { accountRef } from './_output.ts'
import { jsonArg, printOut } from './_shared.ts'

export interface LogoutOptions {
  account?: string
  all?: boolean
}

/** Forgets accounts locally (tokens are not revoked: the protocol has no revocation endpoint). */
export async function runLogout(options: LogoutOptions): Promise<Account[]> {
  if (options.all && options.account) throw usageError('give an account or --all, not both')
  const ctx = createContext()
  const doc = await ctx.accounts.read()
  if (options.account === undefined && doc.accounts.length === 0) {
    logger.info('No accounts to log out')
    return []
  }
  const removed = options.all ? doc.accounts : [requireAccount(doc, options.account ?? doc.accounts[0]!.id)]
  await ctx.accounts.remove(removed.map((a) => a.id))
  for (const account of removed) logger.success(`Logged out ${account.label} (${account.id})`)
  return removed
}

export default withExtras(
  defineCommand({
    meta: { name: 'logout', description: 'Remove an account (default: the active one), or all of them' },
    args: {
      account: { type: 'positional', description: 'Account id, unique id prefix, or label', required: false },
      all: { type: 'boolean', description: 'Remove every account' },
      ...jsonArg,
    },
    async run({ args }) {
      const removed = await runLogout({ ...(args.account !== undefined ? { account: args.account } : {}), ...(args.all ? { all: true } : {}) })
      if (args.json) printOut(JSON.stringify({ removed: removed.map(accountRef) }))
    },
  }),
  { values: { account: 'account' } },
)
