/**
 * Every answer the proxy makes up itself has OpenAI's error shape, so SDKs surface the message
 * instead of a parse failure: `{"error":{"message","type","code"}}`.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'

export function openaiError(
  status: number,
  message: string,
  type: ErrorType,
  code: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ error: { message, type, code } }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  })
}

/** The SSE event that ends a stream the upstream broke after its first byte. */
export function sseErrorEvent(message: string, code = 'upstream_stream_error'): string {
  return `data: ${JSON.stringify({ error: { message, type: 'server_error', code } })}\n\n`
}
