import { anthropicCountTokens } from './protocols/anthropic/count-tokens.ts'
import { anthropicErrorResponse } from './protocols/anthropic/errors.ts'
import { anthropicMessages } from './protocols/anthropic/messages.ts'
import { openaiErrorResponse, openaiPassthrough } from './protocols/openai.ts'
import { proxyError, type InboundProtocol, type ProxyError } from './protocols/protocol.ts'
import { keptResponseProtocol, responsesProtocol } from './protocols/responses/index.ts'

/** A route an inbound protocol serves. */
export interface ProtocolRoute {
  method: 'GET' | 'POST'
  protocol: InboundProtocol
  /** The protocol's name as logs, metrics and the status page show it (`openai`, …). */
  client: string
}

/**
 * A route qwenauth answers itself: `/health`, `/metrics`, and the status page with its data
 * and actions (`page-state` and `page-action` are the page's own, not listed for people).
 */
export interface LocalRoute {
  method: 'GET' | 'POST'
  local: 'health' | 'metrics' | 'page' | 'page-state' | 'page-action'
}

export type Route = ProtocolRoute | LocalRoute

/** Every path `serve` and `exec`'s proxy answer, and the protocol each speaks. */
export const ROUTES: Readonly<Record<string, Route>> = {
  '/v1/chat/completions': { method: 'POST', protocol: openaiPassthrough('/chat/completions', 'chat'), client: 'openai' },
  '/v1/completions': { method: 'POST', protocol: openaiPassthrough('/completions', 'completions'), client: 'openai' },
  '/v1/embeddings': { method: 'POST', protocol: openaiPassthrough('/embeddings', 'embeddings'), client: 'openai' },
  '/v1/models': { method: 'GET', protocol: openaiPassthrough('/models', 'none'), client: 'openai' },
  '/v1/messages': { method: 'POST', protocol: anthropicMessages, client: 'anthropic' },
  '/v1/messages/count_tokens': { method: 'POST', protocol: anthropicCountTokens, client: 'anthropic' },
  '/v1/responses': { method: 'POST', protocol: responsesProtocol, client: 'responses' },
  '/health': { method: 'GET', local: 'health' },
  '/metrics': { method: 'GET', local: 'metrics' },
  '/': { method: 'GET', local: 'page' },
  '/ui': { method: 'GET', local: 'page' },
  '/ui/state': { method: 'GET', local: 'page-state' },
  '/ui/activate': { method: 'POST', local: 'page-action' },
  '/ui/reset': { method: 'POST', local: 'page-action' },
  '/ui/remove': { method: 'POST', local: 'page-action' },
  '/ui/add-key': { method: 'POST', local: 'page-action' },
}

/** Routes with an id in the path (`{id}`: one path segment), tried after the exact ones. */
export const PARAM_ROUTES: ReadonlyArray<{ pattern: string; route: Route }> = [
  { pattern: '/v1/responses/{id}', route: { method: 'GET', protocol: keptResponseProtocol, client: 'responses' } },
]

function paramRoute(path: string): { pattern: string; route: Route } | undefined {
  for (const entry of PARAM_ROUTES) {
    const prefix = entry.pattern.slice(0, entry.pattern.indexOf('{'))
    const rest = path.slice(prefix.length)
    if (path.startsWith(prefix) && rest !== '' && !rest.includes('/')) return entry
  }
  return undefined
}

/** Shapes errors of paths that match no route. */
export const FALLBACK_ERRORS: Pick<InboundProtocol, 'error'> = { error: openaiErrorResponse }

export interface Matched {
  path: string
  /**
   * The route as the table names it (`/v1/responses/{id}`): what metrics and the status page
   * show, so a client's ids neither grow the series without end nor reach a page or a scrape.
   */
  pattern: string
  route: Route
}

export function isStatusPageRoute(route: Route): boolean {
  return 'local' in route && (route.local === 'page' || route.local === 'page-state' || route.local === 'page-action')
}

/**
 * The route for a request, or the 404 / 405 answer. A trailing slash is forgiven. Routes
 * `disabled` says are off (the status page with `--no-ui`) answer as unknown.
 */
export function matchRoute(
  method: string,
  pathname: string,
  disabled: (route: Route) => boolean = () => false,
): Matched | { error: ProxyError; errors: Pick<InboundProtocol, 'error'> } {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname
  const exact = ROUTES[path]
  const param = exact ? undefined : paramRoute(path)
  const route = exact ?? param?.route
  if (!route || disabled(route)) {
    const known = [...Object.entries(ROUTES), ...PARAM_ROUTES.map((r) => [r.pattern, r.route] as const)]
      .filter(([, r]) => !disabled(r) && !('local' in r && (r.local === 'page-state' || r.local === 'page-action')))
      .map(([p, r]) => `${r.method} ${p}`)
      .join(', ')
    // An Anthropic client whose base URL ends in /v1 asks for /v1/v1/messages: say so in its own shape.
    const anthropic = /\/messages(\/count_tokens)?$/.test(path)
    const hint = anthropic ? '; ANTHROPIC_BASE_URL is the address without /v1 (http://host:port)' : ''
    const error = proxyError(404, `qwenauth serves no route ${path} (routes: ${known})${hint}`, 'invalid_request_error', 'unknown_route')
    return { error, errors: anthropic ? { error: anthropicErrorResponse } : FALLBACK_ERRORS }
  }
  if (method !== route.method && !(method === 'HEAD' && route.method === 'GET')) {
    const allow = route.method === 'GET' ? 'GET, HEAD' : route.method
    const error = proxyError(405, `${method} ${path} is not allowed; use ${route.method}`, 'invalid_request_error', 'method_not_allowed', { allow })
    return { error, errors: 'local' in route ? FALLBACK_ERRORS : route.protocol }
  }
  return { path, pattern: param?.pattern ?? path, route }
}
