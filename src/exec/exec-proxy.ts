import { randomBytes } from 'node:crypto'
import type { Context } from '../context.ts'
import { logger } from '../lib/logger.ts'
import { registerSecret } from '../lib/redact.ts'
import type { AccountStore } from '../store/account-store.ts'
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
  registerSecret(key)
  const server = await startProxyServer({
    ctx: options.preferredAccountId ? preferAccount(ctx, options.preferredAccountId) : ctx,
    host: '127.0.0.1',
    port: 0,
    apiKeys: [key],
    // The terminal belongs to the child: request lines only with QWENAUTH_DEBUG.
    log: (line) => logger.debug(line),
    drainMs: CLOSE_TIMEOUT_MS,
  })
  return {
    credentials: { apiKey: key, baseUrl: `${server.url}/v1`, model: options.model },
    close: () => Promise.race([server.close(), new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS * 2).unref())]),
  }
}

/**
 * The pool serves accounts in stored order, first = active. For this run only, the proxy sees the
 * chosen account first; nothing is written, so other processes keep the stored order.
 */
function preferAccount(ctx: Context, id: string): Context {
  const accounts: AccountStore = Object.create(ctx.accounts)
  accounts.read = async () => {
    const doc = await ctx.accounts.read()
    const chosen = doc.accounts.find((a) => a.id === id)
    return chosen ? { ...doc, accounts: [chosen, ...doc.accounts.filter((a) => a !== chosen)] } : doc
  }
  return { ...ctx, accounts }
}
