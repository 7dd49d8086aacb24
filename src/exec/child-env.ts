import type { Context } from '../context.ts'
import { defaultModel } from '../pool/model-map.ts'
import { pickAccount } from '../commands/_shared.ts'
import { bearerOf, freshAccount } from '../pool/fresh-account.ts'
import type { Account } from '../store/account-model.ts'

/** What an OpenAI-compatible client needs: where to send requests, with which key, for which model. */
export interface ClientCredentials {
  apiKey: string
  baseUrl: string
  model: string
}

/** `env` and `exec --direct` hand out real tokens: refresh first when less than this remains. */
export const DEFAULT_DIRECT_MARGIN_MS = 10 * 60_000

/**
 * The variables every OpenAI-compatible client reads. QWEN_MODEL too, because the official
 * CLI accepts it in place of OPENAI_MODEL (protocol page §7).
 */
export function credentialEnv(creds: ClientCredentials): Record<string, string> {
  return {
    OPENAI_API_KEY: creds.apiKey,
    OPENAI_BASE_URL: creds.baseUrl,
    OPENAI_MODEL: creds.model,
    QWEN_MODEL: creds.model,
  }
}

/** The named account (or the active one) and the model a child is told to use. */
export async function chooseAccount(ctx: Context, idOrLabel?: string, model?: string): Promise<{ account: Account; model: string }> {
  const account = pickAccount(await ctx.accounts.read(), idOrLabel)
  return { account, model: model || defaultModel(account) }
}

export interface DirectOptions {
  marginMs?: number
  signal?: AbortSignal
}

/** The account's real credential, refreshed when it would expire within the margin. */
export async function directCredentials(ctx: Context, account: Account, model: string, options: DirectOptions = {}): Promise<ClientCredentials> {
  const fresh = await freshAccount(ctx, account.id, {
    marginMs: options.marginMs ?? DEFAULT_DIRECT_MARGIN_MS,
    ...(options.signal ? { signal: options.signal } : {}),
  })
  return { apiKey: bearerOf(fresh), baseUrl: fresh.baseUrl, model }
}
