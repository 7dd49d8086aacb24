import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { logger } from '../lib/logger.ts'
import { makeActive } from '../pool/pool-edits.ts'
import type { Account } from '../store/account-model.ts'
import { withExtras } from './_extras.ts'
import { accountRef } from './_output.ts'
import { jsonArg, printOut } from './_shared.ts'

/** Moves the account to the front of the pool: it serves first, and the official CLI gets it. */
export async function runUse(idOrLabel: string): Promise<Account> {
  const account = await makeActive(createContext(), idOrLabel)
  logger.success(`${account.label} (${account.id}) is now the active account`)
  return account
}

export default withExtras(
  defineCommand({
    meta: { name: 'use', description: 'Make an account the active one (first in the pool)' },
    args: { account: { type: 'positional', description: 'Account id, unique id prefix, or label', required: true }, ...jsonArg },
    async run({ args }) {
      const account = await runUse(args.account)
      if (args.json) printOut(JSON.stringify(accountRef(account)))
    },
  }),
  { values: { account: 'account' } },
)
