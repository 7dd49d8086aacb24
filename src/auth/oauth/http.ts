import { randomUUID } from 'node:crypto'
import { ofetch } from 'ofetch'
import { deadline } from '../../lib/deadline.ts'
import { ExitCode, QwenauthError } from '../../lib/errors.ts'
import { logger } from '../../lib/logger.ts'

export interface FormResponse {
  status: number
  body: Record<string, unknown>
}

/** The official CLI's bound on an OAuth request; every request has one. */
const DEFAULT_TIMEOUT_MS = 30_000
/** With `sayWhenSlow`: how long a request may go unanswered before the user is told. */
const SLOW_NOTICE_MS = 2_000

/**
 * POSTs a form to the OAuth server and returns status and JSON body, whatever the status:
 * the device flow reads meaning out of 400 and 429 answers. Only a failure to get an answer
 * at all (DNS, refused, timeout) throws.
 */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  options: { signal?: AbortSignal; timeoutMs?: number; sayWhenSlow?: boolean } = {},
): Promise<FormResponse> {
  const origin = checkedOrigin(url)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const limit = deadline(timeoutMs, options.signal)
  // A server that takes the connection and then says nothing would otherwise mean silence
  // until the timeout: someone waiting at a login should know what it is waiting for.
  const notice = options.sayWhenSlow
    ? setTimeout(() => logger.info(`waiting for the Qwen OAuth server at ${origin}: no answer after ${SLOW_NOTICE_MS / 1000} s (giving up after ${timeoutMs / 1000} s; Ctrl-C cancels)`), SLOW_NOTICE_MS)
    : undefined
  try {
    const response = await ofetch.raw(url, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
        'x-request-id': randomUUID(),
      },
      ignoreResponseError: true,
      retry: 0,
      responseType: 'text',
      signal: limit.signal,
    })
    return { status: response.status, body: parseBody(response._data) }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    const reason = limit.timedOut() ? 'timed out' : networkReason(error)
    throw new QwenauthError(`cannot reach the Qwen OAuth server at ${origin}: ${reason}`, ExitCode.network)
  } finally {
    clearTimeout(notice)
    limit.clear()
  }
}

/** The URL comes from QWENAUTH_OAUTH_URL: a typo there is named as such, not as "Invalid URL". */
function checkedOrigin(url: string): string {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  if (parsed && (parsed.protocol === 'https:' || parsed.protocol === 'http:')) return parsed.origin
  throw new QwenauthError(`the OAuth server URL ${url} is not an http(s) URL: check QWENAUTH_OAUTH_URL`, ExitCode.usage)
}

/** The `error` of a body that was not JSON (its text is kept as `error_description`). */
export const UNREADABLE_ANSWER = 'invalid_response'

function parseBody(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string' || !text) return {}
  try {
    const data: unknown = JSON.parse(text)
    return data && typeof data === 'object' ? (data as Record<string, unknown>) : {}
  } catch {
    return { error: UNREADABLE_ANSWER, error_description: text.slice(0, 200) }
  }
}

/** `error_description` or `error`, for one-line messages. */
export function oauthErrorText(body: Record<string, unknown>): string {
  const description = body.error_description ?? body.error ?? body.message
  return typeof description === 'string' ? description : JSON.stringify(body).slice(0, 200)
}

/** The root cause of a failed fetch (ECONNREFUSED, ENOTFOUND, timeout), not the wrapper's text. */
export function networkReason(error: unknown): string {
  let cause: unknown = error
  for (let i = 0; i < 4 && (cause as { cause?: unknown })?.cause; i++) cause = (cause as { cause: unknown }).cause
  const code = (cause as { code?: unknown })?.code
  if (typeof code === 'string') return code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'host not found' : code
  const name = (error as { name?: unknown })?.name
  if (name === 'TimeoutError' || /timeout/i.test(String((error as Error)?.message))) return 'timed out'
  return (cause as Error)?.message ?? String(error)
}
