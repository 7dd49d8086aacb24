import { anthropicBaseOf } from '../auth/api-key/providers.ts'
import { bearerOf } from '../store/account-model.ts'
import type { Account } from '../store/account-model.ts'
import type { AccountPool } from '../pool/pool.ts'

/** What a client needs: where to send requests, with which key, for which model. */
export interface ClientCredentials {
  apiKey: string
  baseUrl: string
  model: string
  /** Where Anthropic clients (Claude Code) send the same requests, when the target speaks that API. */
  anthropicBaseUrl?: string
}

/**
 * The variables every OpenAI-compatible client reads. QWEN_MODEL too, because the official
 * CLI accepts it in place of OPENAI_MODEL (docs/qwen-protocol.md §7). Where the target speaks
 * Anthropic's API, the variables Claude Code reads as well: the key as ANTHROPIC_AUTH_TOKEN (sent
 * as a Bearer token), and the model for the main model and the `opus`/`sonnet` aliases. `haiku`
 * is left to the proxy's model map (`claude-*haiku*`), so a faster model can be chosen there.
 */
export function credentialEnv(creds: ClientCredentials): Record<string, string> {
  const openai = {
    OPENAI_API_KEY: creds.apiKey,
    OPENAI_BASE_URL: creds.baseUrl,
    OPENAI_MODEL: creds.model,
    QWEN_MODEL: creds.model,
  }
  if (!creds.anthropicBaseUrl) return openai
  return {
    ...openai,
    ANTHROPIC_BASE_URL: creds.anthropicBaseUrl,
    ANTHROPIC_AUTH_TOKEN: creds.apiKey,
    ANTHROPIC_MODEL: creds.model,
    ANTHROPIC_DEFAULT_OPUS_MODEL: creds.model,
    ANTHROPIC_DEFAULT_SONNET_MODEL: creds.model,
  }
}

const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']

/**
 * `NO_PROXY` and `no_proxy` with the private proxy's loopback address added, when the environment
 * names an HTTP proxy: curl, Python (urllib, requests, httpx) and Claude Code would otherwise send
 * their requests for `http://127.0.0.1:PORT` (one-time key included) to that proxy, which cannot
 * reach this machine's loopback. Both spellings get the union of what either listed, since tools
 * differ in which one they read first. Nothing changes where no proxy is named. A `*` (no proxy
 * for any host) stays alone: curl and Python take it as a wildcard only as the whole value.
 */
export function loopbackNoProxy(env: NodeJS.ProcessEnv): Record<string, string> {
  if (!PROXY_VARIABLES.some((name) => env[name])) return {}
  const listed = [env.no_proxy, env.NO_PROXY].flatMap((value) => (value ?? '').split(',')).map((entry) => entry.trim()).filter(Boolean)
  const entries = listed.includes('*') ? '*' : [...new Set([...listed, '127.0.0.1'])].join(',')
  return { NO_PROXY: entries, no_proxy: entries }
}

export interface DirectOptions {
  /** Refresh first when less than this remains. */
  marginMs: number
  signal?: AbortSignal
}

/** The account's real credential and base URL (`env`, `exec --direct`), refreshed when it would expire within the margin. */
export async function directCredentials(pool: AccountPool, account: Account, model: string, options: DirectOptions): Promise<ClientCredentials> {
  const fresh = await pool.credential(account, options)
  const anthropicBaseUrl = anthropicBaseOf(fresh)
  return { apiKey: bearerOf(fresh), baseUrl: fresh.baseUrl, model, ...(anthropicBaseUrl ? { anthropicBaseUrl } : {}) }
}
