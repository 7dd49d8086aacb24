import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import type { Account } from '../store/account.ts'

export interface StoreCopyOptions {
  from: string
  to: string
}

/**
 * Copies every account from one store to another (a directory or a Redis URL). Accounts the
 * target already has (same id) are replaced by the source's; the target's others stay, after
 * the copied ones. The source is only read.
 */
export async function runStoreCopy(options: StoreCopyOptions): Promise<Account[]> {
  if (options.from === options.to) throw usageError('--from and --to name the same store')
  const source = createContext(process.env, options.from)
  const target = createContext(process.env, options.to)
  try {
    const { accounts } = await source.accounts.read()
    if (accounts.length === 0) throw usageError(`no accounts in ${source.home} to copy`)
    const ids = new Set(accounts.map((a) => a.id))
    await target.accounts.update((doc) => {
      doc.accounts = [...accounts, ...doc.accounts.filter((a) => !ids.has(a.id))]
    })
    await target.accounts.syncMirror()
    logger.success(`Copied ${accounts.length} account${accounts.length === 1 ? '' : 's'} from ${source.home} to ${target.home}: ${accounts.map((a) => a.id).join(', ')}`)
    return accounts
  } finally {
    await Promise.all([source.close(), target.close()])
  }
}

const copy = defineCommand({
  meta: { name: 'copy', description: 'Copy accounts between stores: a directory (like ~/.qwen) or redis://[user:pass@]host:port[/db]' },
  args: {
    from: { type: 'string', required: true, description: 'Source store: a directory or a redis:// URL', valueHint: 'dir|url' },
    to: { type: 'string', required: true, description: 'Target store: a directory or a redis:// URL', valueHint: 'dir|url' },
  },
  async run({ args }) {
    await runStoreCopy({ from: args.from, to: args.to })
  },
})

export default defineCommand({
  meta: { name: 'store', description: 'Manage where accounts are stored (directory or Redis)' },
  subCommands: { copy },
})
