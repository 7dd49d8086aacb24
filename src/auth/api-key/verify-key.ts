import { maxAnswerBytes, readTextAtMost, TooManyBytes } from '../../lib/bytes.ts'
import { deadline } from '../../lib/deadline.ts'
import { ExitCode, QwenauthError } from '../../lib/errors.ts'
import { logger } from '../../lib/logger.ts'
import { CODING_AGENTS_ONLY } from './providers.ts'

export interface VerifyKeyOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

export interface VerifiedKey {
  /** Model ids the provider lists for this key, in its order (empty when it lists none). */
  models: string[]
}

const DEFAULT_TIMEOUT_MS = 15_000
const SKIP_HINT = 'pass --no-verify to save the key without checking it'

/**
 * One cheap request (`GET {base}/models`) that every OpenAI-compatible API answers, so a
 * mistyped key or base URL is caught at login instead of at the first real request.
 * Only an answer that proves the key wrong or unusable refuses it; a quota answer (429) means
 * the provider knows the key, so it is kept with a warning.
 */
export async function verifyApiKey(baseUrl: string, apiKey: string, options: VerifyKeyOptions = {}): Promise<VerifiedKey> {
  const url = `${baseUrl}/models`
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  let response: ModelsAnswer
  try {
    response = await getModels(baseUrl, { Authorization: `Bearer ${apiKey}` }, { ...options, timeoutMs })
  } catch (error) {
    if (error instanceof OversizedAnswer) throw new QwenauthError(`GET ${url} answered with more than a model listing: ${error.message}`, ExitCode.failure, SKIP_HINT)
    if (error instanceof Unreachable) throw new QwenauthError(`cannot reach ${new URL(url).origin} to check the key (${error.message})`, ExitCode.network, SKIP_HINT)
    throw error
  }
  const { status, body } = response
  if (status >= 200 && status < 300) return { models: modelIds(body) }
  const said = providerMessage(body) || response.statusText || 'no message'
  if (status === 401 || status === 403) {
    throw new QwenauthError(`the provider refused the key (${status}): ${said}`, ExitCode.loginDenied)
  }
  if (status === 429) {
    logger.warn(`the provider knows the key but answered 429: ${said}; saving it anyway`)
    return { models: [] }
  }
  // The Coding Plan answers clients other than coding agents this way: the key itself is fine.
  if (status === 405 && CODING_AGENTS_ONLY.test(said)) {
    logger.info(`the provider serves coding agents only and would not list its models to qwenauth ("${said}"); saving the key: your agent's requests go through with its own User-Agent`)
    return { models: [] }
  }
  const hint = status === 404 ? `check the base URL ${baseUrl}, or ${SKIP_HINT}` : SKIP_HINT
  throw new QwenauthError(`GET ${url} answered ${status}: ${said}`, ExitCode.failure, hint)
}

export interface ModelsAnswer {
  status: number
  statusText: string
  body: string
}

/** No answer from the server: refused, not found, timed out. The message says which. */
export class Unreachable extends Error {}

/** An answer too large to be a model listing: not held whole, and not read as one. */
export class OversizedAnswer extends Unreachable {}

/**
 * `GET {base}/models`, the cheapest request every OpenAI-compatible API answers; any status
 * comes back as it is. Throws Unreachable when there is no answer within the timeout.
 */
export async function getModels(baseUrl: string, headers: Record<string, string>, options: VerifyKeyOptions = {}): Promise<ModelsAnswer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const limit = deadline(timeoutMs, options.signal)
  try {
    const response = await fetch(`${baseUrl}/models`, { headers: { Accept: 'application/json', ...headers }, signal: limit.signal })
    // A listing is small; an answer past the limit is not held whole (serve runs this too).
    return { status: response.status, statusText: response.statusText, body: await readTextAtMost(response, maxAnswerBytes()) }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    if (error instanceof TooManyBytes) throw new OversizedAnswer(error.message)
    throw new Unreachable(limit.timedOut() ? `no answer within ${timeoutMs / 1000} s` : causeText(error))
  } finally {
    limit.clear()
  }
}

/** The provider's own words, on one line: OpenAI-shaped `error.message`, else what there is. */
export function providerMessage(body: string): string {
  let text = body
  try {
    const data = JSON.parse(body) as Record<string, unknown>
    const error = data.error
    const candidate = (error && typeof error === 'object' ? (error as Record<string, unknown>).message : error) ?? data.message ?? data.detail
    if (typeof candidate === 'string') text = candidate
  } catch {
    // Not JSON (an HTML error page, plain text): show its start.
  }
  const line = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim()
  return line.length > 300 ? `${line.slice(0, 297)}...` : line
}

function modelIds(body: string): string[] {
  try {
    const data = (JSON.parse(body) as { data?: unknown }).data
    if (!Array.isArray(data)) return []
    return data.map((m) => (m as { id?: unknown })?.id).filter((id): id is string => typeof id === 'string' && id !== '')
  } catch {
    return []
  }
}

function causeText(error: unknown): string {
  // Node's fetch puts the system error in `cause`; Bun's carries the code itself.
  const { cause, code } = error as { cause?: { code?: string; message?: string }; code?: unknown }
  return cause?.code ?? (typeof code === 'string' ? code : undefined) ?? cause?.message ?? (error as Error).message
}
