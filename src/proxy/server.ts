import { serve } from 'srvx'
import { usageError } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { redact } from '../lib/redact.ts'
import { createProxyApp, type ProxyApp, type ProxyAppOptions } from './app.ts'
import { openaiErrorResponse } from './protocols/openai.ts'
import { proxyError } from './protocols/protocol.ts'
import { DEFAULTS } from '../defaults.ts'
import { envList } from './options.ts'
import { limitNodeConnections } from './node-connections.ts'

export interface ProxyServerOptions extends ProxyAppOptions {
  host: string
  port: number
  apiKeys: string[]
  /** How long `close()` lets requests in flight finish before cutting them (5 s). */
  drainMs?: number
  /** One of `serve --workers N`: share the port (SO_REUSEPORT) with the other workers. */
  reusePort?: boolean
}

export interface ProxyServer {
  /** `http://host:port`, without the /v1. */
  url: string
  close(): Promise<void>
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1'
}

/**
 * The proxy app on a real socket via srvx (Node, Bun and Deno alike). Without an API key it
 * only ever listens on loopback: anyone who could reach it would spend the user's accounts.
 */
export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  // The keys the app will really check: an empty one is no key (the app drops it).
  const keyless = !options.apiKeys.some(Boolean)
  if (keyless && !isLoopbackHost(options.host)) {
    throw usageError(
      `refusing to listen on ${options.host} without an API key: anyone who can reach it could use your accounts; pass --api-key <key> (or QWENAUTH_API_KEYS), or keep --host 127.0.0.1`,
    )
  }
  // Either wildcard lets every web page in: without a key, the page would spend the accounts.
  if (keyless && [...(options.allowedHosts ?? []), ...envList(process.env.QWENAUTH_ALLOWED_HOSTS)].includes('*')) {
    throw usageError('refusing --allowed-host * without an API key: any web page could then use your accounts through DNS rebinding; name the hosts, or pass --api-key')
  }
  if (keyless && [...(options.corsOrigins ?? []), ...envList(process.env.QWENAUTH_CORS_ORIGINS)].includes('*')) {
    throw usageError('refusing --cors-origin * without an API key: any web page could then use your accounts; name the origins, or pass --api-key')
  }
  const app = createProxyApp({ ...options, listenHost: options.host })
  const { clientTimeoutMs } = app.settings
  // Bun counts whole seconds, 255 at most; 0 is no limit for both runtimes.
  const idleSeconds = clientTimeoutMs > 0 ? Math.min(255, Math.max(1, Math.ceil(clientTimeoutMs / 1000))) : 0
  // The app answers every request itself; this is the last resort for a bug, and it must not
  // be the runtime's page (Bun's development page shows the stack and the source).
  const error = (failure: unknown) => {
    logger.error(`request failed: ${redact(failure instanceof Error ? failure.message : String(failure))}`)
    return openaiErrorResponse(proxyError(500, 'qwenauth failed on this request', 'server_error', 'internal_error'))
  }
  // Production mode: no development error page. Bun then shares a busy port unless told not
  // to, and a second serve on a taken port must fail, not split the traffic. Only the workers
  // of `serve --workers`, whose primary first bound the port exclusively, share it.
  const reusePort = options.reusePort === true
  let server: Listening
  try {
    server = await listen(options, app, error, { reusePort, idleSeconds, clientTimeoutMs })
  } catch (failure) {
    await app.close()
    throw usageError(`cannot listen on ${options.host}:${options.port}: ${(failure as Error).message}`)
  }
  const url = server.url
  if (!url) throw usageError(`cannot listen on ${options.host}:${options.port}`)

  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const drained = server.close().then(() => true, () => true)
      // Node keeps a keep-alive connection open after its last answer until the client drops it;
      // while draining, such connections are closed as soon as they fall idle.
      const sweep = server.closeIdle ? setInterval(server.closeIdle, 50) : undefined
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), options.drainMs ?? DEFAULTS.drainMs).unref?.())
      if (!(await Promise.race([drained, timeout]))) await server.close(true).catch(() => {})
      clearInterval(sweep)
      await app.close()
    })())
  return { url, close }
}

/** A listening server, whichever runtime: its `http://host:port`, and close (`true`: cut connections). */
interface Listening {
  url: string | undefined
  close(force?: boolean): Promise<void>
  /** Node: closes the connections with no request in flight (see closeIdleNodeConnections). */
  closeIdle?: (() => void) | undefined
}

/** What qwenauth uses of Bun's server (Bun's own types are not installed). */
interface BunRuntime {
  serve(options: {
    fetch(request: Request, server: BunServer): Promise<Response>
    error(error: unknown): Response
    hostname: string
    port: number
    reusePort: boolean
    idleTimeout: number
    development: boolean
  }): { hostname: string; port: number; stop(closeActiveConnections?: boolean): Promise<void> | void }
}

/** Bun's per-request idle limit, the part of its server qwenauth uses inside a request. */
interface BunServer {
  timeout(request: Request, seconds: number): void
}

/** Answers this small fit the socket's buffers: written at once, they need no care. */
const SMALL_ANSWER = 64 * 1024

/**
 * A whole answer (the only kind that states its length: relay.ts) ends its record, and so turns
 * Bun's idle limit back on, before Bun writes it; one larger than the socket takes at once would
 * then be cut when its client pauses reading. It goes out as a stream Bun pulls from as the
 * client reads, the limit off until the last piece is taken.
 */
function limitAfterWriting(response: Response, server: BunServer, request: Request, rearm: () => void): Response | Promise<Response> {
  if (!response.body || !(Number(response.headers.get('content-length')) > SMALL_ANSWER)) return response
  return pulledAsRead(response, server, request, rearm)
}

async function pulledAsRead(response: Response, server: BunServer, request: Request, rearm: () => void): Promise<Response> {
  const bytes = new Uint8Array(await response.arrayBuffer())
  server.timeout(request, 0)
  let at = 0
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (at >= bytes.byteLength) {
          controller.close()
          rearm()
          return
        }
        const piece = bytes.subarray(at, at + SMALL_ANSWER)
        at += piece.byteLength
        controller.enqueue(piece)
      },
      cancel: rearm,
    },
    { highWaterMark: 0 },
  )
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

interface ListenLimits {
  reusePort: boolean
  /** Bun's idle limit on a client connection, whole seconds (0: none). */
  idleSeconds: number
  clientTimeoutMs: number
}

/**
 * Under Bun, Bun.serve itself: srvx's wrapper defines three properties on every request and adds
 * a promise hop to every answer, which cost 10-20% of the requests per second in a side-by-side
 * wrk run of a minimal relay. Node and Deno go through srvx.
 */
async function listen(options: ProxyServerOptions, app: ProxyApp, error: (failure: unknown) => Response, limits: ListenLimits): Promise<Listening> {
  const { reusePort, idleSeconds, clientTimeoutMs } = limits
  const bun = (globalThis as { Bun?: BunRuntime }).Bun
  if (bun) {
    // Bun's idle limit counts silence on the connection, and an answer in flight (a slow one, or
    // a stream waiting on the upstream) is silent too: off until the answer is over. A connection
    // with no request in flight is closed after the client limit; so is one whose request headers
    // stop arriving. Under Bun a busy port throws here already.
    const fetch = (request: Request, server: BunServer) => {
      server.timeout(request, 0)
      const rearm = () => server.timeout(request, idleSeconds)
      const answer = app.fetch(request, rearm)
      return idleSeconds > 0 ? answer.then((response) => limitAfterWriting(response, server, request, rearm)) : answer
    }
    const server = bun.serve({ fetch, error, hostname: options.host, port: options.port, reusePort, idleTimeout: idleSeconds, development: false })
    const host = server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname
    return { url: `http://${host}:${server.port}`, close: async (force) => void (await server.stop(force)) }
  }
  const server = serve({
    fetch: (request) => app.fetch(request),
    hostname: options.host,
    port: options.port,
    silent: true,
    // serve drains on signals itself; srvx's own handler would print and exit on its terms.
    gracefulShutdown: false,
    error,
    reusePort,
    bun: { idleTimeout: idleSeconds, development: false },
    // Node looks for connections past their limits this often (30 s by default).
    node: { connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.round(clientTimeoutMs / 4) || 30_000)) },
  })
  const closeIdle = limitNodeConnections(server.node?.server, clientTimeoutMs)
  // Under Deno a busy port throws above already, under Node here.
  await server.ready()
  const address = server.url ? new URL(server.url) : undefined
  return { url: address ? `http://${address.host}` : undefined, close: (force) => server.close(force), closeIdle }
}
