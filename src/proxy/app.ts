import { infoLine, logger } from '../lib/logger.ts'
import { redact } from '../lib/redact.ts'
import { AccountPool } from '../pool/pool.ts'
import { openStatsStore } from '../store/stats-backend.ts'
import { readRequestBody, type JsonBody } from './body.ts'
import { createBrowserGuard, isPreflight, preflightHeaders } from './browser-guard.ts'
import { withClientIdentity } from './client-identity.ts'
import { createKeyCheck, unauthorized } from './client-keys.ts'
import { failover } from './failover.ts'
import { localRoute } from './local-routes.ts'
import { ProxyMetrics } from './metrics.ts'
import { resolveProxyOptions, type ProxyAppOptions, type ResolvedProxyOptions } from './options.ts'
import { isProxyError, proxyError, type AppServices, type ProxyError } from './protocols/protocol.ts'
import { RecentRequests } from './recent-requests.ts'
import { redactedHeaders, RequestRecord } from './request-log.ts'
import { FALLBACK_ERRORS, isStatusPageRoute, matchRoute } from './routes.ts'
import type { ProxyState } from './state.ts'

export type { ProxyAppOptions } from './options.ts'

export interface ProxyApp {
  /** The answer; `onEnd` runs once it is over (a stream's end included) and logged. */
  fetch(request: Request, onEnd?: () => void): Promise<Response>
  /** Stores pending account marks and counters. */
  close(): Promise<void>
  readonly settings: ResolvedProxyOptions
}

/**
 * The proxy as a plain fetch handler: no server in here, so it runs the same under any runtime
 * and tests call it directly. In order: web pages are kept out, the route is found, the client
 * key checked, the body read; then the route's protocol plans the upstream calls and the
 * failover core makes them.
 */
export function createProxyApp(options: ProxyAppOptions): ProxyApp {
  const settings = resolveProxyOptions(options)
  const stats = options.stats ?? openStatsStore(options.ctx, { now: settings.now })
  const pool = new AccountPool(options.ctx, {
    strategy: settings.strategy,
    ...(options.poolRefreshMs === undefined ? {} : { refreshMs: options.poolRefreshMs }),
    ...(options.preferredAccountId ? { preferredId: options.preferredAccountId } : {}),
    stats,
    now: settings.now,
  })
  const state: ProxyState = {
    pool,
    stats,
    settings,
    metrics: new ProxyMetrics(settings.now()),
    recent: new RecentRequests(),
    ...(options.onUnservable ? { onUnservable: options.onUnservable } : {}),
  }
  const shared = new Map<string, unknown>()
  const services: AppServices = {
    ctx: options.ctx,
    settings,
    shared: <T>(key: string, make: () => T): T => {
      if (!shared.has(key)) shared.set(key, make())
      return shared.get(key) as T
    },
  }
  const keyCheck = createKeyCheck(settings.apiKeys)
  const browserGuard = createBrowserGuard(settings)
  const sink = options.log ?? infoLine
  /** Requests whose record is not written yet (streams included): close() waits for them. */
  const inFlight = new Set<Promise<void>>()

  async function handle(request: Request, record: RequestRecord, pathname: string, search: string): Promise<Response> {
    const verdict = browserGuard(request)
    if (!verdict.ok) return FALLBACK_ERRORS.error(proxyError(verdict.status, verdict.message, 'invalid_request_error', verdict.code))
    if (verdict.cors && isPreflight(request)) return new Response(null, { status: 204, headers: preflightHeaders(request, verdict.cors) })
    const response = await routeRequest(request, record, pathname, search)
    if (verdict.cors) for (const [name, value] of Object.entries(verdict.cors)) response.headers.set(name, value)
    return response
  }

  async function routeRequest(request: Request, record: RequestRecord, pathname: string, search: string): Promise<Response> {
    const matched = matchRoute(request.method, pathname, settings.statusPage ? undefined : isStatusPageRoute)
    const authorized = keyCheck(request)
    if ('error' in matched) return authorized ? matched.errors.error(matched.error) : matched.errors.error(unauthorized(request))
    const { route, path } = matched
    record.route = matched.pattern
    if ('local' in route) return localRoute(route, { request, record, path, authorized }, state, options.ctx)
    record.protocol = route.client
    const protocol = route.protocol
    if (!authorized) return protocol.error(unauthorized(request))

    let body: JsonBody | undefined
    if (route.method === 'POST') {
      const read = await readRequestBody(request, settings.maxBodyBytes, settings.clientTimeoutMs)
      if (isProxyError(read)) return protocol.error(read)
      body = read
    }
    const plan = await protocol.plan({ path, search, body, headers: request.headers, app: services })
    if (plan instanceof Response) return plan
    if (isProxyError(plan)) return protocol.error(plan)
    return failover(state, protocol, withClientIdentity(plan, request.headers), request.signal, record)
  }

  /** A finished request into the metrics and the status page's list. */
  function observe(record: RequestRecord, status: number | string): void {
    const promptTokens = record.usage?.promptTokens ?? 0
    const completionTokens = record.usage?.completionTokens ?? 0
    state.metrics.request({ route: record.route, protocol: record.protocol, accountId: record.accountId, status, promptTokens, completionTokens })
    state.recent.add({
      at: settings.now(),
      method: record.method,
      route: record.route === 'unknown' ? redact(record.path.slice(0, 200)) : record.route,
      protocol: record.protocol,
      account: record.accountLabel ?? null,
      status,
      durationMs: Math.round(record.elapsedMs),
      promptTokens,
      completionTokens,
    })
  }

  return {
    settings,
    async fetch(request, onEnd) {
      // Never `new URL(request.url)`: an odd Host makes the runtime hand over a relative URL,
      // and a throw here would escape to the runtime's own error page.
      const url = requestTarget(request.url)
      let ended = () => {}
      const done = new Promise<void>((resolve) => (ended = resolve))
      inFlight.add(done)
      void done.then(() => inFlight.delete(done))
      const record = new RequestRecord(
        (r, status, line) => {
          if (r.logged) sink(line)
          if (r.counted) observe(r, status)
          ended()
          onEnd?.()
        },
        request.method,
        url.pathname,
      )
      try {
        if (settings.verbose) sink(`${request.method} ${url.pathname} headers ${redactedHeaders(request.headers)}`)
        const response = await handle(request, record, url.pathname, url.search)
        if (!record.deferred) record.end(response.status)
        return response
      } catch (error) {
        const message = redact(error instanceof Error ? error.message : String(error))
        logger.error(`${request.method} ${url.pathname} failed: ${message}`)
        record.end(500)
        return FALLBACK_ERRORS.error(proxyError(500, `qwenauth failed on this request: ${message}`, 'server_error', 'internal_error'))
      }
    },
    async close() {
      // A server cut its last connections just now: their streams end (and are logged and
      // counted) a moment later. Bounded, for streams nobody reads or cancels.
      if (inFlight.size > 0) await Promise.race([Promise.all(inFlight), sleep(CLOSE_WAIT_MS)])
      await pool.settled()
      await state.stats.close()
    },
  }
}

const CLOSE_WAIT_MS = 1000

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.())
}

/** Path and query of a request URL, absolute or not, without throwing. */
export function requestTarget(url: string): { pathname: string; search: string } {
  let target = url
  const scheme = target.indexOf('://')
  if (scheme !== -1) {
    const slash = target.indexOf('/', scheme + 3)
    target = slash === -1 ? '/' : target.slice(slash)
  }
  const hash = target.indexOf('#')
  if (hash !== -1) target = target.slice(0, hash)
  const query = target.indexOf('?')
  return query === -1 ? { pathname: target || '/', search: '' } : { pathname: target.slice(0, query) || '/', search: target.slice(query) }
}
