import { DEFAULTS } from '../../defaults.ts'
import { apiBaseFromResourceUrl, type GrantedTokens } from '../../store/tokens.ts'
import { getModels, OversizedAnswer, providerMessage, Unreachable } from '../api-key/verify-key.ts'
import { qwenOAuthHeaders } from './constants.ts'

export type Served = { served: true } | { served: false; said: string } | { served: 'unknown'; why: string }

/**
 * Whether Qwen's API serves a login it just issued tokens for. Logins still succeed since the
 * free tier ended (docs/qwen-protocol.md §6); the API then refuses the account with 401, so one
 * cheap request (`GET /models`, no quota spent) tells a served login from one that is not,
 * before the account is put in front of accounts that work.
 */
export async function probeServed(tokens: GrantedTokens, options: { signal?: AbortSignal; userAgent?: string } = {}): Promise<Served> {
  const headers = { ...qwenOAuthHeaders(options.userAgent ?? (process.env.QWENAUTH_USER_AGENT || DEFAULTS.qwenUserAgent)), Authorization: `Bearer ${tokens.accessToken}` }
  try {
    const answer = await getModels(apiBaseFromResourceUrl(tokens.resourceUrl), headers, options.signal ? { signal: options.signal } : {})
    if (answer.status >= 200 && answer.status < 300) return { served: true }
    if (answer.status === 401 || answer.status === 403) return { served: false, said: providerMessage(answer.body) || answer.statusText }
    return { served: 'unknown', why: `GET /models answered ${answer.status}: ${providerMessage(answer.body) || answer.statusText}` }
  } catch (error) {
    if (error instanceof OversizedAnswer) return { served: 'unknown', why: `GET /models answered with more than a model listing (${error.message})` }
    if (error instanceof Unreachable) return { served: 'unknown', why: `could not reach the API (${error.message})` }
    throw error
  }
}
