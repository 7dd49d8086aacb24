import type { Context } from '../context.ts'
import { accountViews } from '../pool/account-view.ts'
import { readRequestBody } from './body.ts'
import { unauthorized } from './client-keys.ts'
import { healthResponse } from './health.ts'
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.ts'
import { isProxyError, proxyError, type ProxyError } from './protocols/protocol.ts'
import type { RequestRecord } from './request-log.ts'
import { FALLBACK_ERRORS, type LocalRoute } from './routes.ts'
import type { ProxyState } from './state.ts'
import { PAGE_DATA_HEADERS, pageJson, pageResponse } from './ui/page.ts'
import { runAction } from './ui/page-actions.ts'
import { pageState, READ_ONLY_WITHOUT_KEYS } from './ui/page-state.ts'

/** An action's body: an account id, or a provider and a key. */
const ACTION_BODY_LIMIT = 64 * 1024

export interface LocalRequest {
  request: Request
  record: RequestRecord
  path: string
  /** The request passed the client key check (always, when serve has no key). */
  authorized: boolean
}

/**
 * The routes qwenauth answers itself: `/health` (counts for anyone, details with a key),
 * `/metrics` (with a key unless `--metrics-public`), and the status page: the page for anyone
 * (it holds nothing), its data with a key, its actions with a key only when serve has keys.
 * None of the GETs counts as client traffic (metrics, recent requests); the page's polls and the
 * scrapes are not logged either, or they would fill the log. The actions are logged and counted.
 */
export async function localRoute(route: LocalRoute, local: LocalRequest, state: ProxyState, ctx: Context): Promise<Response> {
  const { request, record, authorized } = local
  const { settings } = state
  // Health checks, scrapes and the page's own polls are not client traffic.
  if (route.method === 'GET') record.counted = false
  switch (route.local) {
    case 'health':
      return healthResponse(state.pool, state.stats, authorized, settings.now())
    case 'metrics': {
      if (!authorized && !settings.metricsPublic) return FALLBACK_ERRORS.error(unauthorized(request))
      record.logged = false
      const counters = await state.stats.read().catch(() => undefined)
      const text = state.metrics.render(accountViews(await state.pool.accounts(), counters, settings.now()), settings.now())
      return new Response(text, { headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } })
    }
    case 'page':
      record.logged = false
      return pageResponse()
    case 'page-state':
      if (!authorized) return pageError(unauthorized(request))
      record.logged = false
      return pageJson(await pageState(state))
    case 'page-action':
      return pageAction(local, state, ctx)
  }
}

async function pageAction({ request, record, path, authorized }: LocalRequest, state: ProxyState, ctx: Context): Promise<Response> {
  // Without client keys anyone on this machine could reach the page: it only shows.
  if (state.settings.apiKeys.length === 0) return pageError(proxyError(403, READ_ONLY_WITHOUT_KEYS, 'permission_error', 'read_only'))
  if (!authorized) return pageError(unauthorized(request))
  const body = await readRequestBody(request, ACTION_BODY_LIMIT, state.settings.clientTimeoutMs)
  if (isProxyError(body)) return pageError(body)
  const done = await runAction(path, ctx, body.json, request.signal)
  if (isProxyError(done)) return pageError(done)
  state.pool.forget()
  record.note = done.note
  return pageJson({ message: done.message })
}

function pageError(error: ProxyError): Response {
  const response = FALLBACK_ERRORS.error(error)
  for (const [name, value] of Object.entries(PAGE_DATA_HEADERS)) response.headers.set(name, value)
  return response
}
