import { decimal } from '../lib/decimal.ts'
import { defineCommand } from 'citty'
import { createContext } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { usageError } from '../lib/errors.ts'
import { releaseInterruptHandlers } from '../lib/interrupt.ts'
import { bufferLines, flushLines, logger, timestampLines } from '../lib/logger.ts'
import { stopSignals } from '../lib/stop-signals.ts'
import { STRATEGIES, type Strategy } from '../pool/pool.ts'
import { restartWithFetchLimit } from '../proxy/runtime-fetch.ts'
import { isLoopbackHost, startProxyServer, type ProxyServer } from '../proxy/server.ts'
import { workerIdentity } from '../proxy/worker.ts'
import { parseAliasFlags } from '../pool/model-map.ts'
import { PROXY_ENV, REFRESH_ENV } from './_environment.ts'
import { withExtras } from './_extras.ts'
import { parseWorkers, runWorkers } from './_workers.ts'
import { modelMapArg, printOut, repeatedValues } from './_shared.ts'

export interface ServeOptions {
  host?: string
  port?: number
  apiKeys?: string[]
  strategy?: Strategy
  verbose?: boolean
  userAgent?: string
  drainMs?: number
  /** More Host names to answer to (a reverse proxy's), besides loopback names and --host. */
  allowedHosts?: string[]
  /** Web origins whose pages may call the proxy (CORS). */
  corsOrigins?: string[]
  /** Requested model → model sent (`--model-map`), names or patterns. */
  modelMap?: Record<string, string>
  /** False with --no-ui: no status page. */
  ui?: boolean
  /** `/metrics` without a client key. */
  metricsPublic?: boolean
  /** Requests of one conversation go to the account that served it before (prompt caches stay warm). */
  affinity?: boolean
}

/** Starts the proxy and prints its base URL (stdout) once it listens. */
export async function runServe(options: ServeOptions, env: NodeJS.ProcessEnv = process.env): Promise<ProxyServer> {
  timestampLines()
  bufferLines()
  const apiKeys = [...(options.apiKeys ?? []), ...(env.QWENAUTH_API_KEYS ?? '').split(',')].map((k) => k.trim()).filter(Boolean)
  const host = options.host ?? DEFAULTS.host
  const port = options.port ?? DEFAULTS.port
  const ctx = createContext(env)
  const statusPage = options.ui !== false && env.QWENAUTH_NO_UI !== '1'
  // One of `serve --workers N`: the port is shared with the other workers (see _workers.ts).
  const worker = workerIdentity(env)
  const server = await startProxyServer({
    ctx,
    host,
    port,
    apiKeys,
    strategy: options.strategy ?? DEFAULTS.strategy,
    verbose: options.verbose ?? false,
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    ...(options.drainMs === undefined ? {} : { drainMs: options.drainMs }),
    ...(options.allowedHosts?.length ? { allowedHosts: options.allowedHosts } : {}),
    ...(options.corsOrigins?.length ? { corsOrigins: options.corsOrigins } : {}),
    ...(options.modelMap ? { modelMap: options.modelMap } : {}),
    statusPage,
    metricsPublic: options.metricsPublic === true || env.QWENAUTH_METRICS_PUBLIC === '1',
    ...(options.affinity ? { affinity: true } : {}),
    ...(worker ? { reusePort: true } : {}),
  })
  const accounts = (await ctx.accounts.read()).accounts
  // Workers print their URL for the primary; the notes once, from the first.
  if (worker && worker.index > 1) {
    printOut(`${server.url}/v1`)
    return { url: server.url, close: () => server.close().finally(() => ctx.close()) }
  }
  logger.info(
    `qwenauth serve: OpenAI-compatible base URL ${server.url}/v1 (${accounts.length} account${accounts.length === 1 ? '' : 's'}, ${options.strategy ?? DEFAULTS.strategy}${apiKeys.length > 0 ? `, ${apiKeys.length} API key${apiKeys.length === 1 ? '' : 's'}` : ', no API key: loopback only'}); Anthropic base URL (Claude Code's ANTHROPIC_BASE_URL) ${server.url}; Ctrl-C stops`,
  )
  if (statusPage) logger.info(`status page: ${server.url}/ (${apiKeys.length > 0 ? 'with a client key' : 'read-only: no client key'}); Prometheus metrics: ${server.url}/metrics`)
  if (accounts.length === 0) logger.warn('there are no accounts yet: every request will fail until you run `qwenauth login`')
  // Last, so a script that waits for this line finds the server ready and the notes printed.
  flushLines()
  printOut(`${server.url}/v1`)
  return { url: server.url, close: () => server.close().finally(() => ctx.close()) }
}

/** SIGINT, SIGTERM or a closed terminal (SIGHUP): stop accepting, let requests in flight finish (a few seconds), then exit. */
function stopOnSignals(server: ProxyServer): Promise<void> {
  releaseInterruptHandlers()
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: NodeJS.Signals) => {
      // A second Ctrl-C means now. A second SIGTERM does not: under systemd every process of the
      // unit gets one and a worker another from its primary; the drain has its own deadline.
      if (stopping) {
        if (signal === 'SIGINT') process.exit(130)
        return
      }
      stopping = true
      logger.info(`${signal}: finishing requests in flight, then stopping`)
      void server.close().then(resolve)
    }
    for (const signal of stopSignals()) process.on(signal, stop)
    // A worker whose primary is gone (its pipe closed) stops as on SIGTERM: no orphan keeps the port.
    if (workerIdentity()) {
      process.stdin.on('end', () => stop('SIGTERM')).on('error', () => stop('SIGTERM'))
      process.stdin.resume()
    }
  })
}

export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const port = decimal(value)
  if (port === undefined || port > 65535) throw usageError(`--port needs a number from 0 to 65535, got ${value}`)
  return port
}

function parseStrategy(value: string | undefined): Strategy | undefined {
  if (value === undefined) return undefined
  if (!(STRATEGIES as readonly string[]).includes(value)) throw usageError(`--strategy is ${STRATEGIES.join(' or ')}, got ${value}`)
  return value as Strategy
}

export default withExtras(defineCommand({
  meta: { name: 'serve', description: 'Run an OpenAI- and Anthropic-compatible proxy that keeps tokens fresh and fails over between accounts' },
  args: {
    host: { type: 'string', description: 'Address to listen on (anything beyond loopback needs --api-key)', default: DEFAULTS.host },
    port: { type: 'string', description: 'Port to listen on (0 picks a free one)', default: String(DEFAULTS.port) },
    'api-key': { type: 'string', description: 'Key clients must send (Bearer or x-api-key); repeatable; also QWENAUTH_API_KEYS=k1,k2', valueHint: 'key' },
    strategy: { type: 'string', description: 'fill-first (active account until it fails) or round-robin', valueHint: 'fill-first|round-robin', default: DEFAULTS.strategy },
    'user-agent': { type: 'string', description: "User-Agent sent for Qwen OAuth accounts (also QWENAUTH_USER_AGENT); key accounts get the client's", valueHint: 'UA' },
    'allowed-host': { type: 'string', description: 'Also answer requests for this Host name (a reverse proxy\'s; .example.com takes subdomains); repeatable; also QWENAUTH_ALLOWED_HOSTS', valueHint: 'name' },
    'cors-origin': { type: 'string', description: 'Let web pages of this origin call the proxy (CORS); repeatable; also QWENAUTH_CORS_ORIGINS', valueHint: 'https://app.example' },
    ...modelMapArg,
    affinity: { type: 'boolean', description: "Keep each conversation on the account that served it before, while it is usable, so the provider's prompt cache stays warm (also QWENAUTH_AFFINITY=1)" },
    verbose: { type: 'boolean', description: 'Also log request headers (credentials redacted)' },
    ui: { type: 'boolean', default: true, description: 'Serve the status page at / and /ui', negativeDescription: 'No status page (also QWENAUTH_NO_UI=1)' },
    'metrics-public': { type: 'boolean', description: 'Answer GET /metrics without a client key (also QWENAUTH_METRICS_PUBLIC=1)' },
    workers: { type: 'string', description: 'Processes answering on the one port, sharing the accounts (Linux; auto = one per core)', valueHint: 'N|auto', default: '1' },
  },
  async run({ args, rawArgs }) {
    // First: it may start the process over (Bun's fetch limit is read only at start-up).
    await restartWithFetchLimit()
    const port = parsePort(args.port)
    const strategy = parseStrategy(args.strategy)
    const workers = parseWorkers(args.workers)
    if (workers > 1 && !workerIdentity()) {
      const host = args.host ?? DEFAULTS.host
      // The workers would each refuse this; once is enough.
      const keyless = ![...repeatedValues(rawArgs, 'api-key', '<key>'), ...(process.env.QWENAUTH_API_KEYS ?? '').split(',')].some((k) => k.trim())
      if (keyless && !isLoopbackHost(host)) throw usageError(`refusing to listen on ${host} without an API key: anyone who can reach it could use your accounts; pass --api-key <key> (or QWENAUTH_API_KEYS), or keep --host 127.0.0.1`)
      timestampLines()
      process.exitCode = await runWorkers(host, port ?? DEFAULTS.port, workers)
      return
    }
    const server = await runServe({
      host: args.host,
      ...(port === undefined ? {} : { port }),
      apiKeys: repeatedValues(rawArgs, 'api-key', '<key>'),
      ...(strategy ? { strategy } : {}),
      verbose: Boolean(args.verbose),
      ...(args['user-agent'] ? { userAgent: args['user-agent'] } : {}),
      allowedHosts: repeatedValues(rawArgs, 'allowed-host', 'proxy.example.com'),
      corsOrigins: repeatedValues(rawArgs, 'cors-origin', 'https://app.example'),
      modelMap: parseAliasFlags(repeatedValues(rawArgs, 'model-map', 'claude-*haiku*=qwen3-coder-flash'), '--model-map'),
      ui: args.ui !== false,
      metricsPublic: Boolean(args['metrics-public']),
      ...(args.affinity ? { affinity: true } : {}),
    })
    await stopOnSignals(server)
    logger.info('stopped')
  },
}), { env: ['QWENAUTH_API_KEYS', 'QWENAUTH_ALLOWED_HOSTS', 'QWENAUTH_CORS_ORIGINS', 'QWENAUTH_NO_UI', 'QWENAUTH_METRICS_PUBLIC', ...REFRESH_ENV, ...PROXY_ENV], values: { strategy: STRATEGIES } })
