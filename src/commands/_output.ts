import type { Account } from '../store/account-model.ts'

/** How `--json` output names an account, in every command. */
export interface AccountRef {
  id: string
  label: string
  provider: string
}

export function accountRef(account: Account): AccountRef {
  return { id: account.id, label: account.label, provider: account.provider }
}
