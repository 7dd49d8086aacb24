import type { Account } from '../../../store/account-model.ts'
import type { Json } from './json.ts'

/** Providers whose chat API takes DashScope's reasoning switch (docs/qwen-protocol.md §8). */
const ENABLE_THINKING = new Set(['qwen-oauth', 'coding-plan', 'coding-plan-intl', 'dashscope', 'dashscope-intl', 'modelscope'])

/**
 * `reasoning.effort` as the account's provider switches reasoning: `enable_thinking` on the
 * Qwen APIs, OpenRouter's `reasoning` object; a custom URL's API is unknown, so it gets nothing.
 * `none` and `minimal` switch it off; no effort leaves the model's default.
 */
export function reasoningFields(account: Account, effort: string | undefined): Json {
  if (!effort) return {}
  const on = effort !== 'none' && effort !== 'minimal'
  if (ENABLE_THINKING.has(account.provider)) return { enable_thinking: on }
  if (account.provider === 'openrouter') return { reasoning: on ? { effort: effort === 'xhigh' ? 'high' : effort } : { enabled: false } }
  return {}
}
