import { anthropicCountTokens } from './protocols/anthropic/count-tokens.ts'
import { anthropicErrorResponse } from './protocols/anthropic/errors.ts'
import { anthropicMessages } from './protocols/anthropic/messages.ts'
import { openaiErrorResponse, openaiPassthrough } from './protocols/openai.ts'
import { proxyError, type InboundProtocol, type ProxyError } from './protocols/protocol.ts'

export interface Route {
  method: 'GET' | 'POST'
  /** The inbound protocol that serves it; `health` is answered by the app itself. */
  protocol: InboundProtocol | 'health'
}

/** Every path `serve` and `exec`'s proxy answer, and the protocol each speaks. */
export const ROUTES: Readonly<Record<string, Route>> = {
  '/v1/chat/completions': { method: 'POST', protocol: openaiPassthrough('/chat/completions', 'chat') },
  '/v1/completions': { method: 'POST', protocol: openaiPassthrough('/completions', 'completions') },
  '/v1/embeddings': { method: 'POST', protocol: openaiPassthrough('/embeddings', 'embeddings') },
  '/v1/models': { method: 'GET', protocol: openaiPassthrough('/models', 'none') },
  '/v1/messages': { method: 'POST', protocol: anthropicMessages },
  '/v1/messages/count_tokens': { method: 'POST', protocol: anthropicCountTokens },
  '/health': { method: 'GET', protocol: 'health' },
}

/** Shapes errors of paths that match no route. */
export const FALLBACK_ERRORS: Pick<InboundProtocol, 'error'> = { error: openaiErrorResponse }

export interface Matched {
  path: string
  route: Route
}

/** The route for a request, or the 404 / 405 answer. A trailing slash is forgiven. */
export function matchRoute(method: string, pathname: string): Matched | { error: ProxyError; errors: Pick<InboundProtocol, 'error'> } {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname
  const route = ROUTES[path]
  if (!route) {
    const known = Object.entries(ROUTES).map(([p, r]) => `${r.method} ${p}`).join(', ')
    // An Anthropic client whose base URL ends in /v1 asks for /v1/v1/messages: say so in its own shape.
    const anthropic = /\/messages(\/count_tokens)?$/.test(path)
    const hint = anthropic ? '; ANTHROPIC_BASE_URL is the address without /v1 (http://host:port)' : ''
    const error = proxyError(404, `qwenauth serves no route ${path} (routes: ${known})${hint}`, 'invalid_request_error', 'unknown_route')
    return { error, errors: anthropic ? { error: anthropicErrorResponse } : FALLBACK_ERRORS }
  }
  if (method !== route.method && !(method === 'HEAD' && route.method === 'GET')) {
    const allow = route.method === 'GET' ? 'GET, HEAD' : route.method
    const error = proxyError(405, `${method} ${path} is not allowed; use ${route.method}`, 'invalid_request_error', 'method_not_allowed', { allow })
    return { error, errors: route.protocol === 'health' ? FALLBACK_ERRORS : route.protocol }
  }
  return { path, route }
}
