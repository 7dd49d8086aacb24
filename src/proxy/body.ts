import { proxyError, type ProxyError } from './protocols/protocol.ts'

/** A body over the configured limit: answered with 413 before any upstream work. */
export class BodyTooLarge extends Error {}

/** A body that is not a JSON object: answered with 400. */
export class InvalidBody extends Error {}

/** A body not declared as JSON: answered with 415 before it is read. */
export class UnsupportedMediaType extends Error {}

export interface JsonBody {
  /** The text as the client sent it: forwarded unchanged when nothing needs rewriting. */
  text: string
  json: Record<string, unknown>
}

/**
 * Reads the request body, never more than `limit` bytes. A declared Content-Length is checked
 * before reading (the HTTP framing then bounds the body); a chunked body is counted as it comes.
 */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw new BodyTooLarge(`the request body is over the ${formatBytes(limit)} limit`)
  if (declared !== null || !request.body) {
    const text = await request.text()
    if (text.length > limit) throw new BodyTooLarge(`the request body is over the ${formatBytes(limit)} limit`)
    return text
  }
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw new BodyTooLarge(`the request body is over the ${formatBytes(limit)} limit`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Only a body declared as JSON is read as JSON. A web page can send `text/plain` or a form to
 * any address without a CORS preflight; `application/json` it cannot, so a page never gets its
 * request run by mislabelling it.
 */
export async function readJsonBody(request: Request, limit: number): Promise<JsonBody> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (type !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(type)) {
    throw new UnsupportedMediaType(`the request body must be sent as Content-Type: application/json${type ? ` (got ${type})` : ''}`)
  }
  const text = await readBodyText(request, limit)
  if (text.trim() === '') throw new InvalidBody('the request body is empty; send a JSON object')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new InvalidBody(`the request body is not valid JSON (${(error as Error).message})`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidBody('the request body must be a JSON object')
  return { text, json: json as Record<string, unknown> }
}

/** The body of a JSON route, or the error that answers it. */
export async function readRequestBody(request: Request, limit: number): Promise<JsonBody | ProxyError> {
  try {
    return await readJsonBody(request, limit)
  } catch (error) {
    if (error instanceof BodyTooLarge) return proxyError(413, error.message, 'invalid_request_error', 'request_too_large')
    if (error instanceof UnsupportedMediaType) return proxyError(415, error.message, 'invalid_request_error', 'unsupported_media_type')
    if (error instanceof InvalidBody) return proxyError(400, error.message, 'invalid_request_error', 'invalid_json')
    return proxyError(400, `could not read the request body: ${(error as Error).message}`, 'invalid_request_error', 'unreadable_body')
  }
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MiB` : `${n} bytes`
}
