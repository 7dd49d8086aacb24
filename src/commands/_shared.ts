import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { unusableReason } from '../pool/messages.ts'
import { logger } from '../lib/logger.ts'
import { effectiveStatus, type Account, type AccountsDoc } from '../store/account.ts'
import { requireAccount } from '../store/accounts.ts'

/** Flags several commands share, so they read and behave the same everywhere. */
export const accountArg = {
  account: { type: 'string', alias: 'a', description: 'Account id, unique id prefix, or label (default: the active account)', valueHint: 'id' },
} as const

export const jsonArg = {
  json: { type: 'boolean', description: 'Machine-readable JSON on stdout' },
} as const

/**
 * The account whose credential `token`, `env` and `exec --direct` hand out: the named one, else
 * the first in pool order that can serve now. Handing out the active account's token when the
 * API refuses that account (not served since the free tier ended, cooling down after a quota
 * answer, needing a new login) would only move the failure into the user's program, so such
 * accounts are passed over, each with one line saying why. With none usable, the active one is
 * used, with that line.
 */
export function pickAccount(doc: AccountsDoc, idOrLabel: string | undefined, now = Date.now()): Account {
  if (idOrLabel !== undefined) {
    const named = requireAccount(doc, idOrLabel)
    if (effectiveStatus(named, now) !== 'ok') logger.warn(`${unusableWarning(named, now)}; using it because --account names it`)
    return named
  }
  const active = doc.accounts[0]
  if (!active) throw new QwenauthError('no accounts yet: run `qwenauth login` first', ExitCode.needsLogin)
  const usable = doc.accounts.find((a) => effectiveStatus(a, now) === 'ok')
  for (const skipped of doc.accounts.slice(0, usable ? doc.accounts.indexOf(usable) : 1)) {
    logger.warn(`${unusableWarning(skipped, now)}; ${usable ? `using ${usable.label} (${usable.id}) instead` : 'no other account can serve either'}`)
  }
  return usable ?? active
}

function unusableWarning(account: Account, now: number): string {
  return `account ${account.label} (${account.id}) is ${unusableReason(account, now) ?? 'usable'}`
}

/** stdout is for machine output only; one write so a pipe sees it whole. */
export function printOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}
