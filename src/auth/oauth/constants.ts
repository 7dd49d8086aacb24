/** Protocol constants from the official CLI (see docs/qwen-protocol.md §1, §5). */
export const QWEN_OAUTH_BASE = 'https://chat.qwen.ai'
export const QWEN_CLIENT_ID = 'f0304373b74a44d2b584a3fb70ca9e56'
export const QWEN_SCOPE = 'openid profile email model.completion'
export const DEVICE_CODE_PATH = '/api/v1/oauth2/device/code'
export const TOKEN_PATH = '/api/v1/oauth2/token'
export const DEVICE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code'

export function oauthBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.QWENAUTH_OAUTH_URL || QWEN_OAUTH_BASE).replace(/\/+$/, '')
}

/**
 * The headers the official CLI adds for Qwen OAuth (docs/qwen-protocol.md §5): its User-Agent,
 * repeated in the DashScope headers, and context caching on.
 */
export function qwenOAuthHeaders(userAgent: string): Record<string, string> {
  return {
    'user-agent': userAgent,
    'x-dashscope-useragent': userAgent,
    'x-dashscope-cachecontrol': 'enable',
    'x-dashscope-authtype': 'qwen-oauth',
  }
}
