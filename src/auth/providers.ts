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
  /** Where the provider's own docs tell users to keep the key; `--api-key-env` defaults to it. */
  keyEnv?: string
  /** Qwen Code's model names mapped to this provider's names for the same model. */
  aliases: Record<string, string>
}

export const QWEN_OAUTH_PROVIDER = 'qwen-oauth'
export const CUSTOM_PROVIDER = 'custom'

/** Qwen OAuth's own model ids (protocol page §5); `coder-model` is the one left in 0.24.x. */
export const QWEN_OAUTH_DEFAULT_MODEL = 'coder-model'

export const PROVIDERS: readonly ProviderPreset[] = [
  {
    name: 'coding-plan',
    title: 'Alibaba Cloud Coding Plan (China)',
    baseUrl: 'https://coding.dashscope.aliyuncs.com/v1',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'BAILIAN_CODING_PLAN_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'coding-plan-intl',
    title: 'Alibaba Cloud Coding Plan (international)',
    baseUrl: 'https://coding-intl.dashscope.aliyuncs.com/v1',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'BAILIAN_CODING_PLAN_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'dashscope',
    title: 'DashScope / Model Studio (China)',
    baseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1',
    defaultModel: 'qwen3-coder-plus',
    keyEnv: 'DASHSCOPE_API_KEY',
    aliases: { 'coder-model': 'qwen3-coder-plus', 'vision-model': 'qwen3-vl-plus' },
  },
  {
    name: 'dashscope-intl',
    title: 'DashScope / Model Studio (international)',
    baseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
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
    aliases: { 'coder-model': 'qwen/qwen3-coder', 'vision-model': 'qwen/qwen2.5-vl-72b-instruct' },
  },
]

export function findProvider(name: string): ProviderPreset | undefined {
  return PROVIDERS.find((p) => p.name === name)
}
