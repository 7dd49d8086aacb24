import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { requireAccount } from '../store/account-model.ts'

export interface LogoutOptions {
  account?: string
  all?: boolean
}

/** Forgets accounts locally (tokens are not revoked: the protocol has no revocation endpoint). */
export async function runLogout(options: LogoutOptions): Promise<string[]> {
  if (options.all && options.account) throw usageError('give an account or --all, not both')
  const ctx = createContext()
  const doc = await ctx.accounts.read()
  if (options.account === undefined && doc.accounts.length === 0) {
    logger.info('No accounts to log out')
    return []
  }
  const ids = options.all ? doc.accounts.map((a) => a.id) : [requireAccount(doc, options.account ?? doc.accounts[0]!.id).id]
  await ctx.accounts.remove(ids)
  for (const id of ids) logger.success(`Logged out ${doc.accounts.find((a) => a.id === id)?.label ?? id}`)
  return ids
}

export default defineCommand({
  meta: { name: 'logout', description: 'Remove an account (default: the active one), or all of them' },
  args: {
    account: { type: 'positional', description: 'Account id or label', required: false },
    all: { type: 'boolean', description: 'Remove every account' },
  },
  async run({ args }) {
    await runLogout({ ...(args.account !== undefined ? { account: args.account } : {}), ...(args.all ? { all: true } : {}) })
  },
})
