/** Protocol constants from the official CLI (see shared/qwen-protocol.md §1, §5). */
export const QWEN_OAUTH_BASE = 'https://chat.qwen.ai'
export const QWEN_CLIENT_ID = 'f0304373b74a44d2b584a3fb70ca9e56'
export const QWEN_SCOPE = 'openid profile email model.completion'
export const DEVICE_CODE_PATH = '/api/v1/oauth2/device/code'
export const TOKEN_PATH = '/api/v1/oauth2/token'
export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'
/** Where the official CLI sends requests when the token names no resource_url. */
export const DEFAULT_API_BASE = 'https://dashscope.aliyuncs.com/compatible-mode/v1'

export function oauthBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.QWENAUTH_OAUTH_URL || QWEN_OAUTH_BASE).replace(/\/+$/, '')
}

/** `portal.qwen.ai` → `https://portal.qwen.ai/v1`; a scheme, if given, is kept. */
export function apiBaseFromResourceUrl(resourceUrl: string | undefined): string {
  if (!resourceUrl) return DEFAULT_API_BASE
  const withScheme = /^https?:\/\//i.test(resourceUrl) ? resourceUrl : `https://${resourceUrl}`
  const trimmed = withScheme.replace(/\/+$/, '')
  return trimmed.endsWith('/v1') ? trimmed : `${trimmed}/v1`
}
