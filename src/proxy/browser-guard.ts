/**
 * Keeps web pages away from the proxy. A browser runs on this machine too, so "loopback only"
 * does not stop a page from reaching a keyless proxy:
 * - DNS rebinding points a name the page controls at 127.0.0.1, making the page same-origin
 *   with us: only Host names this server was started for are answered.
 * - A cross-site page can send "simple" requests (a form post, text/plain) without a
 *   preflight: any request a browser marks as coming from another origin is refused, unless
 *   that origin was allowed with `--cors-origin`, which then gets proper CORS answers.
 * Clients that are not browsers (SDKs, agents, curl) send no Origin and pass.
 */

export interface BrowserGuardOptions {
  /** The address `serve` listens on; its name is an accepted Host. */
  listenHost?: string
  /** More Host names (a reverse proxy's); `.example.com` also takes its subdomains; `*` any. */
  allowedHosts?: readonly string[]
  /** Origins whose pages may call the proxy (`https://app.example.com`), or `*`. */
  corsOrigins?: readonly string[]
}

export type GuardVerdict =
  | { ok: true; cors: Record<string, string> | undefined }
  | { ok: false; status: 400 | 403; code: string; message: string }

/** What a preflight asks for may only be headers and methods the proxy uses. */
const ALLOWED_METHODS = 'GET, POST, OPTIONS'
const EXPOSED_HEADERS = 'retry-after, x-request-id, request-id'
const PREFLIGHT_MAX_AGE = '600'

// A Host header as HTTP defines it: a name, an IPv4 or a bracketed IPv6 literal, and a port.
const HOST_SYNTAX = /^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)(?::(\d{1,5}))?$/i
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

export function createBrowserGuard(options: BrowserGuardOptions): (request: Request) => GuardVerdict {
  const names = new Set<string>()
  const suffixes: string[] = []
  let anyHost = false
  for (const raw of [options.listenHost ?? '', ...(options.allowedHosts ?? [])]) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '')
    if (entry === '*') anyHost = true
    else if (entry.startsWith('.')) suffixes.push(entry)
    else if (entry) names.add(entry)
  }
  const origins = new Set((options.corsOrigins ?? []).map((o) => o.trim().replace(/\/+$/, '').toLowerCase()).filter(Boolean))

  const hostAllowed = (hostname: string): boolean =>
    anyHost ||
    isIpLiteral(hostname) ||
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    names.has(hostname) ||
    suffixes.some((s) => hostname.endsWith(s) || hostname === s.slice(1))

  return (request) => {
    const host = request.headers.get('host') ?? authorityOf(request.url)
    // No Host at all (HTTP/1.0): no browser sends that, so no page can be behind it.
    if (host) {
      const parsed = HOST_SYNTAX.exec(host.trim())
      if (!parsed) return refuse(400, 'invalid_host', `the Host header ${JSON.stringify(host.slice(0, 100))} is not a valid host name`)
      const hostname = (parsed[1] ?? '').toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '')
      if (!hostAllowed(hostname)) {
        return refuse(
          403,
          'host_not_allowed',
          `this qwenauth serve does not answer to the host name "${hostname}"; if it is the name of your reverse proxy, start serve with --allowed-host ${hostname}`,
        )
      }
    }
    const origin = request.headers.get('origin')
    if (origin !== null) {
      if (host && sameHost(origin, host)) return { ok: true, cors: undefined }
      const normalised = origin.replace(/\/+$/, '').toLowerCase()
      if (origins.has('*') || origins.has(normalised)) return { ok: true, cors: corsHeaders(origin) }
      return refuse(403, 'cross_origin_request', `requests from web pages on ${origin} are refused; to allow that page, start serve with --cors-origin ${origin}`)
    }
    const site = request.headers.get('sec-fetch-site')
    if (site === 'cross-site' || site === 'same-site') {
      return refuse(403, 'cross_origin_request', 'requests from web pages on other sites are refused')
    }
    return { ok: true, cors: undefined }
  }
}

/** Headers for a preflight the guard let through: every method and header the proxy takes. */
export function preflightHeaders(request: Request, cors: Record<string, string>): Record<string, string> {
  const requested = request.headers.get('access-control-request-headers')
  return {
    ...cors,
    'access-control-allow-methods': ALLOWED_METHODS,
    // Echoed: the proxy reads only the headers it knows, so allowing what a page asks for grants nothing more.
    ...(requested ? { 'access-control-allow-headers': requested } : {}),
    'access-control-max-age': PREFLIGHT_MAX_AGE,
  }
}

export function isPreflight(request: Request): boolean {
  return request.method === 'OPTIONS' && request.headers.has('origin') && request.headers.has('access-control-request-method')
}

function corsHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS, vary: 'origin' }
}

function refuse(status: 400 | 403, code: string, message: string): GuardVerdict {
  return { ok: false, status, code, message }
}

function isIpLiteral(hostname: string): boolean {
  return IPV4.test(hostname) || hostname.includes(':')
}

/** `scheme://host[:port]` of an origin equals the Host the request was sent to (any scheme: TLS may end at a proxy). */
function sameHost(origin: string, host: string): boolean {
  const at = origin.indexOf('://')
  return at !== -1 && origin.slice(at + 3).toLowerCase() === host.trim().toLowerCase()
}

/** The authority of an absolute URL (a Request built in-process carries no Host header). */
function authorityOf(url: string): string | undefined {
  const at = url.indexOf('://')
  if (at === -1) return undefined
  const end = url.slice(at + 3).search(/[/?#]/)
  return end === -1 ? url.slice(at + 3) : url.slice(at + 3, at + 3 + end)
}
