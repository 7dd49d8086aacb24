import { formatBytes } from '../lib/bytes.ts'
import { proxyError, type ProxyError } from './protocols/protocol.ts'

/** A body over the configured limit: answered with 413 before any upstream work. */
export class BodyTooLarge extends Error {}

/** A body that is not a JSON object: answered with 400. */
export class InvalidBody extends Error {}

/** A body not declared as JSON: answered with 415 before it is read. */
export class UnsupportedMediaType extends Error {}

/** A body that stopped arriving: answered with 408, and the connection closed. */
export class BodyTimeout extends Error {}

export interface JsonBody {
  /** The text as the client sent it: forwarded unchanged when nothing needs rewriting. */
  text: string
  json: Record<string, unknown>
}

/**
 * Reads the request body, never more than `limit` bytes, and never waits more than `idleMs`
 * (0: no limit) for its next bytes: a body shorter than its Content-Length would otherwise hold
 * the request forever. A declared Content-Length is checked before reading.
 */
export async function readBodyText(request: Request, limit: number, idleMs = 0): Promise<string> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw new BodyTooLarge(`the request body is over the ${formatBytes(limit)} limit`)
  if (!request.body) return ''
  if (declared !== null && Number(declared) <= SMALL_BODY) return textWithin(request, idleMs)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await readWithin(reader, idleMs)
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
 * A declared body this small is read in one call, the runtime's own path: reading it through a
 * stream reader with a timer per chunk cost Bun's server some 40% of its requests per second in a
 * side-by-side wrk run of a minimal relay. Such a body comes in a packet or a few; `idleMs` then
 * bounds the whole read, not each chunk.
 */
const SMALL_BODY = 64 * 1024

async function textWithin(request: Request, idleMs: number): Promise<string> {
  if (idleMs <= 0) return request.text()
  let timer: ReturnType<typeof setTimeout> | undefined
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BodyTimeout(`the request body stopped arriving (not whole after ${Math.round(idleMs / 100) / 10} s)`)), idleMs)
  })
  try {
    return await Promise.race([request.text(), silence])
  } finally {
    clearTimeout(timer)
  }
}

async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, idleMs: number): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (idleMs <= 0) return reader.read()
  let timer: ReturnType<typeof setTimeout> | undefined
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BodyTimeout(`the request body stopped arriving (nothing for ${Math.round(idleMs / 100) / 10} s)`)), idleMs)
  })
  try {
    return await Promise.race([reader.read(), silence])
  } catch (error) {
    if (error instanceof BodyTimeout) reader.cancel().catch(() => {})
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Only a body declared as JSON is read as JSON. A web page can send `text/plain` or a form to
 * any address without a CORS preflight; `application/json` it cannot, so a page never gets its
 * request run by mislabelling it.
 */
export async function readJsonBody(request: Request, limit: number, idleMs = 0): Promise<JsonBody> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
  if (type !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(type)) {
    throw new UnsupportedMediaType(`the request body must be sent as Content-Type: application/json${type ? ` (got ${type})` : ''}`)
  }
  const text = await readBodyText(request, limit, idleMs)
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

/** The body of a JSON route, or the error that answers it; `idleMs` as in readBodyText. */
export async function readRequestBody(request: Request, limit: number, idleMs = 0): Promise<JsonBody | ProxyError> {
  try {
    return await readJsonBody(request, limit, idleMs)
  } catch (error) {
    // The rest of a body that stopped may still come: the connection cannot be used again.
    if (error instanceof BodyTimeout) return proxyError(408, error.message, 'invalid_request_error', 'request_timeout', { connection: 'close' })
    if (error instanceof BodyTooLarge) return proxyError(413, error.message, 'invalid_request_error', 'request_too_large')
    if (error instanceof UnsupportedMediaType) return proxyError(415, error.message, 'invalid_request_error', 'unsupported_media_type')
    if (error instanceof InvalidBody) return proxyError(400, error.message, 'invalid_request_error', 'invalid_json')
    return proxyError(400, `could not read the request body: ${(error as Error).message}`, 'invalid_request_error', 'unreadable_body')
  }
}
