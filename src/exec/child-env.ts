import { bearerOf } from '../store/account-model.ts'
import type { Account } from '../store/account-model.ts'
import type { AccountPool } from '../pool/pool.ts'

/** What an OpenAI-compatible client needs: where to send requests, with which key, for which model. */
export interface ClientCredentials {
  apiKey: string
  baseUrl: string
  model: string
}

/**
 * The variables every OpenAI-compatible client reads. QWEN_MODEL too, because the official
 * CLI accepts it in place of OPENAI_MODEL (docs/qwen-protocol.md §7).
 */
export function credentialEnv(creds: ClientCredentials): Record<string, string> {
  return {
    OPENAI_API_KEY: creds.apiKey,
    OPENAI_BASE_URL: creds.baseUrl,
    OPENAI_MODEL: creds.model,
    QWEN_MODEL: creds.model,
  }
}

export interface DirectOptions {
  /** Refresh first when less than this remains. */
  marginMs: number
  signal?: AbortSignal
}

/** The account's real credential and base URL (`env`, `exec --direct`), refreshed when it would expire within the margin. */
export async function directCredentials(pool: AccountPool, account: Account, model: string, options: DirectOptions): Promise<ClientCredentials> {
  const fresh = await pool.credential(account, options)
  return { apiKey: bearerOf(fresh), baseUrl: fresh.baseUrl, model }
}
