import { randomBytes } from 'node:crypto'
import type { Context } from '../context.ts'
import { logger } from '../lib/logger.ts'
import type { ClientCredentials } from './child-env.ts'

export interface ExecProxy {
  /** What the child is given: the proxy's URL and a key that works only for this run. */
  credentials: ClientCredentials
  close(): Promise<void>
}

export interface ExecProxyOptions {
  model: string
  /** `--account`: this account serves first; the others still take over when it fails. */
  preferredAccountId?: string
  /** `--model-map`: requested model → model sent, over QWENAUTH_MODEL_MAP. */
  modelMap?: Record<string, string>
  /** `--affinity`: a conversation stays on the account that served it before. */
  affinity?: boolean
}

/** A child that leaves keep-alive sockets open must not hold qwenauth's exit for long. */
const CLOSE_TIMEOUT_MS = 2000

/**
 * The proxy `serve` runs, on a random loopback port, accepting one random key. The child gets
 * that key instead of a real token, so nothing it logs or leaks outlives this run.
 */
export async function startExecProxy(ctx: Context, options: ExecProxyOptions): Promise<ExecProxy> {
  const { startProxyServer } = await import('../proxy/server.ts')
  const key = `qwenauth-exec-${randomBytes(24).toString('base64url')}`
  const server = await startProxyServer({
    ctx,
    ...(options.preferredAccountId ? { preferredAccountId: options.preferredAccountId } : {}),
    ...(options.modelMap ? { modelMap: options.modelMap } : {}),
    ...(options.affinity ? { affinity: true } : {}),
    host: '127.0.0.1',
    port: 0,
    apiKeys: [key],
    // The terminal belongs to the child: request lines only with QWENAUTH_DEBUG.
    log: (line) => logger.debug(line),
    // But when no account can serve, say so once per condition: the child may swallow the
    // answer's message, or wait out a Retry-After in silence.
    onUnservable: onceEach((error) => logger.warn(error.message), (error) => error.code),
    drainMs: CLOSE_TIMEOUT_MS,
  })
  return {
    // Anthropic clients add /v1/messages to their base URL themselves.
    credentials: { apiKey: key, baseUrl: `${server.url}/v1`, model: options.model, anthropicBaseUrl: server.url },
    close: () => Promise.race([server.close(), new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS * 2).unref())]),
  }
}

/** Calls `act` once for each distinct key. */
function onceEach<T>(act: (value: T) => void, keyOf: (value: T) => string): (value: T) => void {
  const seen = new Set<string>()
  return (value) => {
    const key = keyOf(value)
    if (seen.has(key)) return
    seen.add(key)
    act(value)
  }
}
