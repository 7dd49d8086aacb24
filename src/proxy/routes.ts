import { openaiError } from './errors.ts'

export type RouteKind = 'chat' | 'completions' | 'embeddings' | 'models' | 'health'

export interface Route {
  method: 'GET' | 'POST'
  kind: RouteKind
  /** Path below the account's API base (which ends in /v1). */
  upstreamPath?: string
}

export const ROUTES: Readonly<Record<string, Route>> = {
  '/v1/chat/completions': { method: 'POST', kind: 'chat', upstreamPath: '/chat/completions' },
  '/v1/completions': { method: 'POST', kind: 'completions', upstreamPath: '/completions' },
  '/v1/embeddings': { method: 'POST', kind: 'embeddings', upstreamPath: '/embeddings' },
  '/v1/models': { method: 'GET', kind: 'models', upstreamPath: '/models' },
  '/health': { method: 'GET', kind: 'health' },
}

/** The route for a request, or the 404 / 405 answer. A trailing slash is forgiven. */
export function matchRoute(method: string, pathname: string): Route | Response {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname
  const route = ROUTES[path]
  if (!route) {
    const known = Object.entries(ROUTES).map(([p, r]) => `${r.method} ${p}`).join(', ')
    return openaiError(404, `qwenauth serves no route ${path} (routes: ${known})`, 'invalid_request_error', 'unknown_route')
  }
  if (method !== route.method && !(method === 'HEAD' && route.method === 'GET')) {
    return openaiError(405, `${method} ${path} is not allowed; use ${route.method}`, 'invalid_request_error', 'method_not_allowed', {
      allow: route.method === 'GET' ? 'GET, HEAD' : route.method,
    })
  }
  return route
}
