import { isRecord, text } from './json.ts'

/**
 * An upstream error in OpenAI's shape, `{"error":{"message","type","param","code"}}`, whatever
 * shape it came in (the Qwen APIs' own, Anthropic's, plain text), so SDKs show its message.
 */
export function openaiErrorBody(status: number, bytes: Uint8Array): string {
  const raw = new TextDecoder().decode(bytes)
  let message = raw.slice(0, 1000) || `the upstream answered ${status}`
  let type = status >= 500 ? 'server_error' : 'invalid_request_error'
  let code: string | null = null
  let param: unknown = null
  try {
    const parsed: unknown = JSON.parse(raw)
    const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : isRecord(parsed) ? parsed : undefined
    if (error) {
      message = text(error.message) ?? message
      type = text(error.type) ?? type
      code = text(error.code) ?? null
      param = error.param ?? null
    }
  } catch {}
  return JSON.stringify({ error: { message, type, param, code } })
}
