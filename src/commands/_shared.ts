import { ExitCode, QwenauthError } from '../lib/errors.ts'
import type { Account, AccountsDoc } from '../store/account.ts'
import { requireAccount } from '../store/accounts.ts'

/** Flags several commands share, so they read and behave the same everywhere. */
export const accountArg = {
  account: { type: 'string', alias: 'a', description: 'Account id or label (default: the active account)', valueHint: 'id' },
} as const

export const jsonArg = {
  json: { type: 'boolean', description: 'Machine-readable JSON on stdout' },
} as const

/** The named account, or the active one (first in pool order). */
export function pickAccount(doc: AccountsDoc, idOrLabel: string | undefined): Account {
  if (idOrLabel) return requireAccount(doc, idOrLabel)
  const active = doc.accounts[0]
  if (!active) throw new QwenauthError('no accounts yet: run `qwenauth login` first', ExitCode.needsLogin)
  return active
}

/** stdout is for machine output only; one write so a pipe sees it whole. */
export function printOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}
