import { usageError } from '../../lib/errors.ts'

/**
 * Where an account sends requests, and what its models are called there. One table for code
 * and README alike. Qwen OAuth's base comes from the token's resource_url instead.
 */
export interface ProviderPreset {
  name: string
  title: string
  baseUrl: string
  /** The model used when a client names none. */
  defaultModel: string
  /** Where the provider's own docs tell users to keep the key; the key prompt suggests `--api-key-env` with it. */
  keyEnv?: string
  /** Qwen Code's model names mapped to this provider's names for the same model. */
  aliases: Record<string, string>
  /** Where the provider serves the Anthropic Messages API (docs/qwen-protocol.md §8), without `/v1`. */
  anthropicBaseUrl?: string
  /** How a chat request asks for reasoning: DashScope's `enable_thinking` (default) or OpenRouter's `reasoning`. */
  reasoningSwitch?: 'enable_thinking' | 'reasoning'
}

export const QWEN_OAUTH_PROVIDER = 'qwen-oauth'
export const CUSTOM_PROVIDER = 'custom'

/** Qwen OAuth's own model ids (docs/qwen-protocol.md §5); `coder-model` is the one left in 0.24.x. */
export const QWEN_OAUTH_DEFAULT_MODEL = 'coder-model'

export const PROVIDERS: readonly ProviderPreset[] = [
  {
    name: 'coding-plan',
    title: 'Alibaba Cloud Coding Plan (China)',
    baseUrl: 'https://coding.dashscope.aliyuncs.com/v1',
    anthropicBaseUrl: 'https://coding.dashscope.aliyuncs.com/apps/anthropic',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'BAILIAN_CODING_PLAN_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'coding-plan-intl',
    title: 'Alibaba Cloud Coding Plan (international)',
    baseUrl: 'https://coding-intl.dashscope.aliyuncs.com/v1',
    anthropicBaseUrl: 'https://coding-intl.dashscope.aliyuncs.com/apps/anthropic',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'BAILIAN_CODING_PLAN_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'dashscope',
    title: 'DashScope / Model Studio (China)',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    anthropicBaseUrl: 'https://dashscope.aliyuncs.com/apps/anthropic',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'DASHSCOPE_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'dashscope-intl',
    title: 'DashScope / Model Studio (international)',
    baseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
    anthropicBaseUrl: 'https://dashscope-intl.aliyuncs.com/apps/anthropic',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'DASHSCOPE_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'modelscope',
    title: 'ModelScope API-Inference',
    baseUrl: 'https://api-inference.modelscope.cn/v1',
    defaultModel: 'Qwen/Qwen3-Coder-480B-A35B-Instruct',
    keyEnv: 'MODELSCOPE_API_KEY',
    aliases: { 'coder-model': 'Qwen/Qwen3-Coder-480B-A35B-Instruct', 'vision-model': 'Qwen/Qwen2.5-VL-72B-Instruct' },
  },
  {
    name: 'openrouter',
    title: 'OpenRouter',
    baseUrl: 'https://openrouter.ai/api/v1',
    defaultModel: 'qwen/qwen3-coder',
    keyEnv: 'OPENROUTER_API_KEY',
    reasoningSwitch: 'reasoning',
    aliases: { 'coder-model': 'qwen/qwen3-coder', 'vision-model': 'qwen/qwen2.5-vl-72b-instruct' },
  },
]

export function findProvider(name: string): ProviderPreset | undefined {
  return PROVIDERS.find((p) => p.name === name)
}

/**
 * Where an account's provider serves the Anthropic Messages API, if it does: the account's own
 * (a custom provider's, from `login --anthropic-base-url`), else its preset's, so a newer table
 * reaches old accounts. Qwen OAuth has none.
 */
export function anthropicBaseOf(account: { provider: string; anthropicBaseUrl?: string }): string | undefined {
  return account.anthropicBaseUrl || findProvider(account.provider)?.anthropicBaseUrl
}

/** Where a `--provider` value sends requests: a preset's table entry, or a custom base URL. */
export interface ResolvedProvider {
  /** The preset name, or `custom`. */
  provider: string
  baseUrl: string
  preset?: ProviderPreset
}

// Plain http is only safe where the key never leaves the machine (and tests need it).
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** A preset name (any case) or an OpenAI-compatible base URL; anything else is a usage error. */
export function resolveProvider(nameOrUrl: string): ResolvedProvider {
  const value = nameOrUrl.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { provider: CUSTOM_PROVIDER, baseUrl: normaliseBaseUrl(value) }
  const preset = findProvider(value.toLowerCase())
  if (preset) return { provider: preset.name, baseUrl: preset.baseUrl, preset }
  const names = PROVIDERS.map((p) => p.name).join(', ')
  throw usageError(`unknown provider "${value}": use one of ${names}, or an https:// base URL of an OpenAI-compatible API`)
}

/** Validates a custom base URL and drops trailing slashes, so `${base}/models` is always right. */
export function normaliseBaseUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usageError(`"${raw}" is not a valid URL`)
  }
  if (url.username || url.password) throw usageError('a base URL must not carry credentials: give the key on stdin or with --api-key-env')
  if (url.search || url.hash) throw usageError(`a base URL takes no query string or fragment: ${url.origin}${url.pathname}`)
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw usageError(`refusing http:// for ${url.host}: the key would cross the network unencrypted; use https://`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usageError(`a base URL must start with https:// (got ${url.protocol}//)`)
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}
