import { formatDuration } from '../lib/duration.ts'
import { effectiveStatus, type Account } from '../store/account-model.ts'
import { LIMIT_REACHED } from './choose.ts'

/** What to tell people when an account cannot serve; shared by the proxy and `status`. */

export const ADD_SERVED_ACCOUNT =
  'add a served account: `qwenauth login --provider coding-plan` (Alibaba Cloud Coding Plan API key), or another OpenAI-compatible provider with `qwenauth login --provider <name|url>`'

/** A 401 that survived a fresh refresh: the login works but Qwen no longer serves it (docs/qwen-protocol.md §6). */
export function notServedMessage(label: string): string {
  return `Qwen refused ${label} even with a freshly refreshed token: Qwen ended the free OAuth tier on 2026-04-15, so this login is not served any more; ${ADD_SERVED_ACCOUNT}`
}

export function keyRefusedMessage(label: string, provider: string): string {
  return `the provider refused the API key of ${label} (401): add a valid key with \`qwenauth login --provider ${provider}\` and remove this one with \`qwenauth logout\``
}

/**
 * Why an account cannot serve right now, as a phrase that reads after "<account> is" or
 * "<account>:"; undefined when it can. `token`/`env` and the proxy's "nothing usable" answer
 * say the same thing the same way.
 */
export function unusableReason(account: Account, now: number): string | undefined {
  switch (effectiveStatus(account, now)) {
    case 'cooling-down':
      if (account.lastError?.code === LIMIT_REACHED) return `at its limit of ${account.lastError.message} until it frees up in ${formatDuration((account.cooldownUntil ?? now) - now)}`
      return `cooling down for ${formatDuration((account.cooldownUntil ?? now) - now)}${account.lastError ? ` after ${account.lastError.message}` : ''}`
    case 'not-served':
      return 'not served: Qwen ended the free OAuth tier on 2026-04-15'
    case 'needs-login':
      return `waiting for a new login${account.lastError ? ` (${account.lastError.message})` : ''}`
    default:
      return undefined
  }
}

/** `label (id): why` for every account, `; `-separated: why each can or cannot serve now. */
export function describeAccounts(accounts: readonly Account[], now: number, failedNow: ReadonlyMap<string, string> = new Map()): string {
  return accounts.map((a) => `${a.label} (${a.id}): ${unusableReason(a, now) ?? failedNow.get(a.id) ?? 'ok'}`).join('; ')
}

/** One line for a person: account … is … */
export function unusableWarning(account: Account, now: number): string {
  return `account ${account.label} (${account.id}) is ${unusableReason(account, now) ?? 'usable'}`
}
