import { createHash } from 'node:crypto'
import type { Context } from '../../context.ts'
import type { Account, AccountsDoc } from '../../store/account-model.ts'
import { applySettings, type AccountSettings } from '../../store/account-settings.ts'
import { CUSTOM_PROVIDER } from './providers.ts'

export interface KeyAccountInput extends AccountSettings {
  /** A preset name or `custom`. */
  provider: string
  baseUrl: string
  apiKey: string
  /** Absent: the account keeps its label, and a new one is named after the preset or the URL's host. */
  label?: string
  model?: string
  /** Merged over the aliases the account already has. */
  aliases?: Record<string, string>
  /** Kept from before when not given. */
  anthropicBaseUrl?: string
}

export interface SavedKeyAccount {
  account: Account
  /** False when the same key for the same provider was already stored and got updated. */
  created: boolean
  /** 1-based place in pool order (1 = active). */
  position: number
}

/**
 * Stores an API-key account. A new one goes last in pool order (the user's chosen active account
 * stays active) unless it is the only account; the same key for the same provider updates its
 * account in place, keeping its position (and its label, unless one is given), instead of adding a twin.
 */
export async function saveKeyAccount(ctx: Context, input: KeyAccountInput): Promise<SavedKeyAccount> {
  const now = Date.now()
  const { result } = await ctx.accounts.update((doc): SavedKeyAccount => {
    const existing = doc.accounts.find((a) => isSameKey(a, input))
    const account: Account = {
      ...existing,
      id: existing?.id ?? keyAccountId(doc, input),
      label: input.label ?? existing?.label ?? defaultLabel(input),
      kind: 'api-key',
      provider: input.provider,
      baseUrl: input.baseUrl,
      apiKey: input.apiKey,
      status: 'ok',
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    }
    const model = input.model ?? existing?.model
    if (model) account.model = model
    const anthropicBaseUrl = input.anthropicBaseUrl ?? existing?.anthropicBaseUrl
    if (anthropicBaseUrl) account.anthropicBaseUrl = anthropicBaseUrl
    const aliases = { ...existing?.aliases, ...input.aliases }
    if (Object.keys(aliases).length > 0) account.aliases = aliases
    applySettings(account, input)
    // A key added again is a fresh start: old cooldowns and errors belonged to the old state.
    delete account.cooldownUntil
    delete account.lastError
    const index = existing ? doc.accounts.indexOf(existing) : -1
    if (index >= 0) doc.accounts[index] = account
    else doc.accounts.push(account)
    return { account, created: !existing, position: (index >= 0 ? index : doc.accounts.length - 1) + 1 }
  })
  return result
}

/** A new key account's label: the preset's name, or a custom URL's host. */
function defaultLabel(input: Pick<KeyAccountInput, 'provider' | 'baseUrl'>): string {
  return input.provider === CUSTOM_PROVIDER ? new URL(input.baseUrl).host : input.provider
}

/** Same provider and key (and, for custom providers, the same base URL). */
function isSameKey(account: Account, input: KeyAccountInput): boolean {
  if (account.kind !== 'api-key' || account.provider !== input.provider || account.apiKey !== input.apiKey) return false
  return input.provider !== CUSTOM_PROVIDER || account.baseUrl === input.baseUrl
}

/**
 * `<provider>-<4 hex of sha256(key)>`: stable for a key, short to type, and it reveals nothing
 * useful about the key. Lengthened only in the rare case another account already has the id.
 */
export function keyAccountId(doc: AccountsDoc, input: Pick<KeyAccountInput, 'provider' | 'apiKey'>): string {
  const digest = createHash('sha256').update(input.apiKey).digest('hex')
  for (let length = 4; length <= digest.length; length += 2) {
    const id = `${input.provider}-${digest.slice(0, length)}`
    if (!doc.accounts.some((a) => a.id === id)) return id
  }
  return `${input.provider}-${digest}-${doc.accounts.length}`
}
