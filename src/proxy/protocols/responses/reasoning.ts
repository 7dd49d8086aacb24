import { reasoningSwitchOf } from '../../../auth/api-key/providers.ts'
import type { Account } from '../../../store/account-model.ts'
import type { Json } from './json.ts'

/**
 * `reasoning.effort` as the account's provider switches reasoning (see `reasoningSwitchOf`):
 * `enable_thinking` on the Qwen APIs, OpenRouter's `reasoning` object, nothing on a custom URL.
 * `none` and `minimal` switch it off; no effort leaves the model's default.
 */
export function reasoningFields(account: Account, effort: string | undefined): Json {
  if (!effort) return {}
  const on = effort !== 'none' && effort !== 'minimal'
  const style = reasoningSwitchOf(account.provider)
  if (style === 'enable_thinking') return { enable_thinking: on }
  if (style === 'reasoning') return { reasoning: on ? { effort: effort === 'xhigh' ? 'high' : effort } : { enabled: false } }
  return {}
}
