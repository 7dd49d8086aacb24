import { usageError } from '../../lib/errors.ts'
import type { QuotaLimit } from '../../store/account-model.ts'

/**
 * Where an account sends requests, what its models are called there, and how its plan counts
 * quotas. One table for code and README alike. Qwen OAuth's base comes from the token's
 * resource_url instead.
 */
export interface ProviderPreset {
  name: string
  title: string
  baseUrl: string
  /** The model used when a client names none, unless login picked one from what the key lists. */
  defaultModel: string
  /** Where the provider's own docs tell users to keep the key; the key prompt suggests `--api-key-env` with it. */
  keyEnv?: string
  /** Qwen Code's model names mapped to this provider's names for the same model. */
  aliases: Record<string, string>
  /** Where the provider serves the Anthropic Messages API (docs/qwen-protocol.md §8), without `/v1`. */
  anthropicBaseUrl?: string
  /** How a chat request asks for reasoning: DashScope's `enable_thinking` (default) or OpenRouter's `reasoning`. */
  reasoningSwitch?: ReasoningSwitch
  /** Providers of one family serve the same model names, so those pass between them unchanged (default: its own name). */
  family?: string
  /** At login, the newest model the key lists that matches this (its version in group 1) becomes the default. */
  newestModel?: RegExp
  /** The plan's time zone for daily, weekly and monthly quotas, in minutes east of UTC (default 0, UTC). */
  quotaUtcOffsetMinutes?: number
  /** `--limit <name>`: the plan's quotas, where the provider publishes (or users report) them. */
  limitPresets?: Record<string, QuotaLimit[]>
  /** What login says about the plan's quotas. */
  quotaNote?: string
}

export const QWEN_OAUTH_PROVIDER = 'qwen-oauth'
export const CUSTOM_PROVIDER = 'custom'

/** Qwen OAuth's own model ids (docs/qwen-protocol.md §5); `coder-model` is the one left in 0.24.x. */
export const QWEN_OAUTH_DEFAULT_MODEL = 'coder-model'

/**
 * The Coding Plan's refusal of a client that is not a coding agent: `405 {"error":"Coding Plan
 * is currently only available for Coding Agents"}`; the User-Agent decides (docs/qwen-protocol.md §8).
 */
export const CODING_AGENTS_ONLY = /only available for coding agents/i

/** Alibaba's plans count in Beijing time (UTC+8): the Coding Plan's week turns Monday 00:00 UTC+8. */
export const BEIJING_UTC_OFFSET_MINUTES = 8 * 60

const ALIBABA_ALIASES = { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' }
/** The flat-rate plans' current models (docs/qwen-protocol.md §8): qwen3.5-plus for every key, qwen3.6-plus on Pro. */
const PLAN_ALIASES = { 'coder-model': 'qwen3.5-plus', 'vision-model': 'qwen3-vl-plus' }
const NEWEST_QWEN_PLUS = /^qwen(\d+(?:\.\d+)?)-plus$/

const CODING_PLAN = {
  defaultModel: 'qwen3.5-plus',
  keyEnv: 'BAILIAN_CODING_PLAN_API_KEY',
  aliases: PLAN_ALIASES,
  family: 'alibaba',
  newestModel: NEWEST_QWEN_PLUS,
  quotaUtcOffsetMinutes: BEIJING_UTC_OFFSET_MINUTES,
  // Alibaba publishes no per-window figures; the monthly ones are reported (Pro five times Lite).
  limitPresets: {
    lite: [{ window: 'month', unit: 'requests', max: 18_000 }],
    pro: [{ window: 'month', unit: 'requests', max: 90_000 }],
  },
  quotaNote:
    'the Coding Plan counts requests per 5 hours, per week (from Monday 00:00 UTC+8) and per month (from your subscription day). Alibaba publishes no per-window figures; the monthly ones are reported as 18,000 (Lite) and 90,000 (Pro): `--limit lite` or `--limit pro` and `--reset-day <day>` let qwenauth pass the account over before Alibaba refuses it',
} satisfies Partial<ProviderPreset>

export const PROVIDERS: readonly ProviderPreset[] = [
  {
    name: 'coding-plan',
    title: 'Alibaba Cloud Coding Plan (China)',
    baseUrl: 'https://coding.dashscope.aliyuncs.com/v1',
    anthropicBaseUrl: 'https://coding.dashscope.aliyuncs.com/apps/anthropic',
    ...CODING_PLAN,
  },
  {
    name: 'coding-plan-intl',
    title: 'Alibaba Cloud Coding Plan (international)',
    baseUrl: 'https://coding-intl.dashscope.aliyuncs.com/v1',
    anthropicBaseUrl: 'https://coding-intl.dashscope.aliyuncs.com/apps/anthropic',
    ...CODING_PLAN,
  },
  {
    // No international endpoint of the Token Plan is documented.
    name: 'token-plan',
    title: 'Alibaba Cloud Token Plan (China)',
    baseUrl: 'https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1',
    defaultModel: 'qwen3.5-plus',
    keyEnv: 'BAILIAN_TOKEN_PLAN_API_KEY',
    aliases: PLAN_ALIASES,
    family: 'alibaba',
    newestModel: NEWEST_QWEN_PLUS,
    quotaUtcOffsetMinutes: BEIJING_UTC_OFFSET_MINUTES,
    quotaNote: "the Token Plan's quota figures are not published: set yours with `--limit month-tokens=<n>` (or requests, `--limit month=<n>`) and `--reset-day <day>`",
  },
  {
    name: 'dashscope',
    title: 'DashScope / Model Studio (China)',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    anthropicBaseUrl: 'https://dashscope.aliyuncs.com/apps/anthropic',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'DASHSCOPE_API_KEY',
    aliases: ALIBABA_ALIASES,
    family: 'alibaba',
    quotaUtcOffsetMinutes: BEIJING_UTC_OFFSET_MINUTES,
  },
  {
    name: 'dashscope-intl',
    title: 'DashScope / Model Studio (international)',
    baseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
    anthropicBaseUrl: 'https://dashscope-intl.aliyuncs.com/apps/anthropic',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'DASHSCOPE_API_KEY',
    aliases: ALIBABA_ALIASES,
    family: 'alibaba',
    quotaUtcOffsetMinutes: BEIJING_UTC_OFFSET_MINUTES,
  },
  {
    name: 'modelscope',
    title: 'ModelScope API-Inference',
    baseUrl: 'https://api-inference.modelscope.cn/v1',
    defaultModel: 'Qwen/Qwen3-Coder-480B-A35B-Instruct',
    keyEnv: 'MODELSCOPE_API_KEY',
    aliases: { 'coder-model': 'Qwen/Qwen3-Coder-480B-A35B-Instruct', 'vision-model': 'Qwen/Qwen2.5-VL-72B-Instruct' },
    quotaUtcOffsetMinutes: BEIJING_UTC_OFFSET_MINUTES,
  },
  {
    name: 'openrouter',
    title: 'OpenRouter',
    baseUrl: 'https://openrouter.ai/api/v1',
    defaultModel: 'qwen/qwen3-coder',
    keyEnv: 'OPENROUTER_API_KEY',
    reasoningSwitch: 'reasoning',
    aliases: { 'coder-model': 'qwen/qwen3-coder', 'vision-model': 'qwen/qwen2.5-vl-72b-instruct' },
    limitPresets: {
      free: [{ window: 'minute', unit: 'requests', max: 20 }, { window: 'day', unit: 'requests', max: 50 }],
      'free-credits': [{ window: 'minute', unit: 'requests', max: 20 }, { window: 'day', unit: 'requests', max: 1000 }],
    },
    quotaNote:
      "OpenRouter's free models allow 20 requests a minute and 50 a day (1,000 once 10 credits were bought), the day ending 00:00 UTC: `--limit free` or `--limit free-credits`; `qwenauth status --provider-usage` shows what OpenRouter reports",
  },
]

export function findProvider(name: string): ProviderPreset | undefined {
  return PROVIDERS.find((p) => p.name === name)
}

/** The fields a chat request switches reasoning with (docs/qwen-protocol.md §8). */
export type ReasoningSwitch = 'enable_thinking' | 'reasoning'

/**
 * How this provider's chat API switches reasoning: `enable_thinking` on the Qwen APIs (OAuth and
 * every Alibaba and ModelScope preset), OpenRouter's `reasoning` object. A custom URL's API is
 * unknown, and a strict one refuses fields it does not know, so it gets neither.
 */
export function reasoningSwitchOf(provider: string): ReasoningSwitch | undefined {
  if (provider === QWEN_OAUTH_PROVIDER) return 'enable_thinking'
  const preset = findProvider(provider)
  return preset ? (preset.reasoningSwitch ?? 'enable_thinking') : undefined
}

/**
 * Whether this provider's chat API takes `stream_options.include_usage` (the Qwen APIs and every
 * preset: Qwen Code asks each of them for it). A custom URL's API is unknown, as above.
 */
export function takesStreamUsage(provider: string): boolean {
  return provider === QWEN_OAUTH_PROVIDER || findProvider(provider) !== undefined
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

/**
 * The default model for a new key account from the models the key lists: the newest that
 * matches the preset's pattern (the Coding Plan's `qwen3.6-plus` over `qwen3.5-plus`), else the
 * preset's own choice. `listed` is false when that choice is not among a non-empty listing.
 */
export function pickDefaultModel(preset: ProviderPreset, models: readonly string[]): { model: string; picked: boolean; listed: boolean } {
  let newest: { model: string; version: number[] } | undefined
  for (const model of models) {
    const match = preset.newestModel?.exec(model)
    if (!match?.[1]) continue
    const version = match[1].split('.').map(Number)
    if (!newest || compareVersions(version, newest.version) > 0) newest = { model, version }
  }
  if (newest) return { model: newest.model, picked: newest.model !== preset.defaultModel, listed: true }
  return { model: preset.defaultModel, picked: false, listed: models.length === 0 || models.includes(preset.defaultModel) }
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}
