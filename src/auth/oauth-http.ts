import { randomUUID } from 'node:crypto'
import { ofetch } from 'ofetch'
import { ExitCode, QwenauthError } from '../lib/errors.ts'

export interface FormResponse {
  status: number
  body: Record<string, unknown>
}

/**
 * POSTs a form to the OAuth server and returns status and JSON body, whatever the status:
 * the device flow reads meaning out of 400 and 429 answers. Only a failure to get an answer
 * at all (DNS, refused, timeout) throws.
 */
export async function postForm(
  url: string,
  fields: Record<string, string>,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<FormResponse> {
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
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })
    return { status: response.status, body: parseBody(response._data) }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason
    throw new QwenauthError(`cannot reach the Qwen OAuth server at ${new URL(url).origin}: ${networkReason(error)}`, ExitCode.network)
  }
}

function parseBody(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string' || !text) return {}
  try {
    const data: unknown = JSON.parse(text)
    return data && typeof data === 'object' ? (data as Record<string, unknown>) : {}
  } catch {
    return { error: 'invalid_response', error_description: text.slice(0, 200) }
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
