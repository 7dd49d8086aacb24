import type { ProxyError } from '../protocol.ts'
import { isRecord } from './request.ts'
import { sseEvent } from './events.ts'

/** Anthropic's error types by status (https://docs.anthropic.com/en/api/errors). */
export function errorType(status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 404) return 'not_found_error'
  if (status === 413) return 'request_too_large'
  if (status === 429) return 'rate_limit_error'
  if (status === 529) return 'overloaded_error'
  if (status >= 500) return 'api_error'
  return 'invalid_request_error'
}

export function errorBody(status: number, message: string): string {
  return JSON.stringify({ type: 'error', error: { type: errorType(status), message } })
}

/**
 * qwenauth's own answers in Anthropic's shape. Claude Code retries 401s, 5xx and 429s for about
 * three minutes; where waiting cannot help (a wrong key, accounts that need the user, no
 * accounts at all) `x-should-retry: false` tells it to stop at once.
 */
export function anthropicErrorResponse(error: ProxyError): Response {
  const final = error.status === 401 || error.status === 403 || error.code === 'no_accounts'
  return new Response(errorBody(error.status, error.message), {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...(final ? { 'x-should-retry': 'false' } : {}), ...error.headers },
  })
}

/** The event that ends a stream the upstream broke after it started (Claude Code then retries without streaming). */
export function anthropicStreamError(message: string): string {
  return sseEvent('error', { error: { type: 'api_error', message } })
}

/**
 * A chat upstream's error about the request (a 4xx, OpenAI-shaped or not) in Anthropic's shape,
 * its message kept word for word: clients such as Claude Code act on the wording.
 */
export function translatedError(status: number, bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes)
  let message = text.slice(0, 2000) || `the upstream answered ${status}`
  try {
    const parsed = JSON.parse(text) as unknown
    const error = isRecord(parsed) ? parsed.error : undefined
    if (isRecord(error) && typeof error.message === 'string') message = error.message
    else if (isRecord(parsed) && typeof parsed.message === 'string') message = parsed.message
  } catch {}
  return errorBody(status, message)
}
