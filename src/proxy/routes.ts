import { openaiErrorResponse, openaiPassthrough } from './protocols/openai.ts'
import { proxyError, type InboundProtocol, type ProxyError } from './protocols/protocol.ts'
import { keptResponseProtocol, responsesProtocol } from './protocols/responses/index.ts'

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
  '/v1/responses': { method: 'POST', protocol: responsesProtocol },
  '/health': { method: 'GET', protocol: 'health' },
}

/** Routes with an id in the path (`{id}`: one path segment), tried after the exact ones. */
export const PARAM_ROUTES: ReadonlyArray<{ pattern: string; route: Route }> = [
  { pattern: '/v1/responses/{id}', route: { method: 'GET', protocol: keptResponseProtocol } },
]

function paramRoute(path: string): Route | undefined {
  for (const { pattern, route } of PARAM_ROUTES) {
    const prefix = pattern.slice(0, pattern.indexOf('{'))
    const rest = path.slice(prefix.length)
    if (path.startsWith(prefix) && rest !== '' && !rest.includes('/')) return route
  }
  return undefined
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
  const route = ROUTES[path] ?? paramRoute(path)
  if (!route) {
    const known = [...Object.entries(ROUTES), ...PARAM_ROUTES.map((r) => [r.pattern, r.route] as const)].map(([p, r]) => `${r.method} ${p}`).join(', ')
    return { error: proxyError(404, `qwenauth serves no route ${path} (routes: ${known})`, 'invalid_request_error', 'unknown_route'), errors: FALLBACK_ERRORS }
  }
  if (method !== route.method && !(method === 'HEAD' && route.method === 'GET')) {
    const allow = route.method === 'GET' ? 'GET, HEAD' : route.method
    const error = proxyError(405, `${method} ${path} is not allowed; use ${route.method}`, 'invalid_request_error', 'method_not_allowed', { allow })
    return { error, errors: route.protocol === 'health' ? FALLBACK_ERRORS : route.protocol }
  }
  return { path, route }
}
