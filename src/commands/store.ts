import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { checkStorageSpec } from '../lib/storage-spec.ts'
import type { Account } from '../store/account-model.ts'
import { withExtras } from './_extras.ts'
import { accountRef } from './_output.ts'
import { jsonArg, printOut } from './_shared.ts'

export interface StoreCopyOptions {
  from: string
  to: string
}

/**
 * Copies every account from one store to another (a directory or a Redis URL). Accounts the
 * target already has (same id) are replaced by the source's, except a Qwen OAuth login whose
 * target copy holds newer tokens: refresh tokens rotate, so an older copy would overwrite the
 * live refresh token with a spent one. The target's other accounts stay, after the copied ones.
 */
export interface StoreCopyResult {
  /** Where from and to, as shown (a Redis URL without its password). */
  from: string
  to: string
  copied: Account[]
  /** Accounts whose target copy held newer tokens, so the target's were kept. */
  keptNewer: Account[]
}

export async function runStoreCopy(options: StoreCopyOptions): Promise<StoreCopyResult> {
  checkStorageSpec(options.from, '--from')
  checkStorageSpec(options.to, '--to')
  if (options.from === options.to) throw usageError('--from and --to name the same store')
  const source = createContext(process.env, options.from)
  const target = createContext(process.env, options.to)
  try {
    const { accounts } = await source.accounts.read()
    if (accounts.length === 0) throw usageError(`no accounts in ${source.home} to copy`)
    const ids = new Set(accounts.map((a) => a.id))
    const { result: kept } = await target.accounts.update((doc) => {
      const kept: Account[] = []
      const copied = accounts.map((account) => {
        const existing = doc.accounts.find((a) => a.id === account.id)
        if (!existing || !holdsNewerTokens(existing, account)) return account
        kept.push(existing)
        return existing
      })
      doc.accounts = [...copied, ...doc.accounts.filter((a) => !ids.has(a.id))]
      return kept
    })
    for (const a of kept) logger.warn(`${a.label} (${a.id}): the target's tokens are newer than the source's; kept them`)
    await target.accounts.syncMirror()
    logger.success(`Copied ${accounts.length} account${accounts.length === 1 ? '' : 's'} from ${source.home} to ${target.home}: ${accounts.map((a) => a.id).join(', ')}`)
    return { from: source.home, to: target.home, copied: accounts, keptNewer: kept }
  } finally {
    await Promise.all([source.close(), target.close()])
  }
}

function holdsNewerTokens(target: Account, source: Account): boolean {
  return target.kind === 'qwen-oauth' && target.status !== 'needs-login' && (target.expiresAt ?? 0) > (source.expiresAt ?? 0)
}

const copy = withExtras(
  defineCommand({
    meta: { name: 'copy', description: 'Copy accounts between stores: a directory (like ~/.qwen) or redis://[user:pass@]host:port[/db]' },
    args: {
      from: { type: 'string', required: true, description: 'Source store: a directory or a redis:// or rediss:// URL', valueHint: 'dir|url' },
      to: { type: 'string', required: true, description: 'Target store: a directory or a redis:// or rediss:// URL', valueHint: 'dir|url' },
      ...jsonArg,
    },
    async run({ args }) {
      const result = await runStoreCopy({ from: args.from, to: args.to })
      if (args.json) {
        printOut(JSON.stringify({ from: result.from, to: result.to, copied: result.copied.map(accountRef), keptNewer: result.keptNewer.map(accountRef) }))
      }
    },
  }),
  {
    ignoresStorage: 'it names its stores with --from and --to',
    env: ['QWENAUTH_STORAGE_PREFIX', 'QWENAUTH_LOCK_STALE_MS', 'QWENAUTH_REDIS_LOCK_TTL_MS'],
    values: { from: 'directory', to: 'directory' },
  },
)

export default defineCommand({
  meta: { name: 'store', description: 'Manage where accounts are stored (directory or Redis)' },
  subCommands: { copy },
})
