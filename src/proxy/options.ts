import { envNumber } from '../lib/env-number.ts'
import type { Context } from '../context.ts'
import { DEFAULTS } from '../defaults.ts'
import { registerSecret } from '../lib/redact.ts'
import { parseAliasFlags } from '../pool/model-map.ts'
import type { Strategy } from '../pool/pool.ts'
import type { StatsStore } from '../store/stats.ts'
import type { ProxyError } from './protocols/protocol.ts'

/** What the proxy app can be told; every field but `ctx` has a default (often from the env). */
export interface ProxyAppOptions {
  ctx: Context
  /** Keys clients must present; empty means no check (loopback only, enforced by the server). */
  apiKeys?: string[]
  strategy?: Strategy
  /** How long an account rests after `429 insufficient_quota` (QWENAUTH_QUOTA_COOLDOWN_MS, 30 min). */
  quotaCooldownMs?: number
  /** How long an account rests after another 429 that names no Retry-After (60 s). */
  rateLimitCooldownMs?: number
  /** Rest after a spent 5-hour or monthly window whose end cannot be known (15 min, 24 h). */
  quotaWindowCooldownMs?: Partial<Record<'5h' | 'month', number>>
  /** Requests of one conversation go to the account that served it before, while it is usable (`--affinity`). */
  affinity?: boolean
  /** Largest request body accepted (QWENAUTH_MAX_BODY_BYTES, 32 MiB). */
  maxBodyBytes?: number
  /** Time allowed until the upstream answers the head of a streaming request or a GET (QWENAUTH_CONNECT_TIMEOUT_MS, 30 s). */
  connectTimeoutMs?: number
  /** Longest silence from the upstream once it is working, including a non-streaming answer (QWENAUTH_IDLE_TIMEOUT_MS, 10 min). */
  idleTimeoutMs?: number
  /** Longest client silence: idle connections closed, stalled headers or bodies 408 (QWENAUTH_CLIENT_TIMEOUT_MS, 10 s). */
  clientTimeoutMs?: number
  /** Largest whole upstream answer held for one request (QWENAUTH_MAX_ANSWER_BYTES, 64 MiB). */
  maxAnswerBytes?: number
  /** Largest single streamed event held until it is complete (QWENAUTH_MAX_EVENT_BYTES, 16 MiB). */
  maxEventBytes?: number
  /** Upstream 5xx answers and network errors tolerated per request before giving up (2). */
  maxTransientRetries?: number
  /** How often a silent upstream gets a keep-alive event (Anthropic's `ping`; 10 s). */
  keepAliveMs?: number
  /** Output token limits by model id; requests above are capped (QWENAUTH_MAX_OUTPUT_TOKENS="m=n,..."). */
  outputLimits?: Record<string, number>
  /** Requested model → model sent, names or patterns like `claude-*haiku*` (--model-map, over QWENAUTH_MODEL_MAP). */
  modelMap?: Record<string, string>
  /** User-Agent for Qwen OAuth accounts (QWENAUTH_USER_AGENT). */
  userAgent?: string
  /** The address the server listens on: its name is an accepted Host (see browser-guard.ts). */
  listenHost?: string
  /** More Host names to answer to, e.g. a reverse proxy's (QWENAUTH_ALLOWED_HOSTS, comma-separated). */
  allowedHosts?: string[]
  /** Web origins allowed to call the proxy with CORS (QWENAUTH_CORS_ORIGINS, comma-separated). */
  corsOrigins?: string[]
  /** Adds the (redacted) headers of each request to the log. */
  verbose?: boolean
  /** Serve the status page at `/` and `/ui` (serve: on unless --no-ui or QWENAUTH_NO_UI=1; off for exec's proxy). */
  statusPage?: boolean
  /** `/metrics` without a client key (--metrics-public, QWENAUTH_METRICS_PUBLIC=1). */
  metricsPublic?: boolean
  /** Where the one line per request goes (default: the logger, stderr). */
  log?: (line: string) => void
  /** Counters; default: the context's store (a file under QWEN_HOME, or Redis). */
  stats?: StatsStore
  /** Pool snapshot age limit (QWENAUTH_POOL_REFRESH_MS, 1 s). */
  poolRefreshMs?: number
  /** Responses kept for previous_response_id: how many (QWENAUTH_RESPONSES_KEEP, 1000) and how long (QWENAUTH_RESPONSES_KEEP_MS, 6 h). */
  keptResponses?: { count?: number; maxAgeMs?: number; maxBytes?: number }
  /** This account serves first whenever it can (`exec --account`). */
  preferredAccountId?: string
  /** Told of every answer no account could serve. */
  onUnservable?: (error: ProxyError) => void
  now?: () => number
}

export interface ResolvedProxyOptions {
  apiKeys: string[]
  strategy: Strategy
  quotaCooldownMs: number
  rateLimitCooldownMs: number
  quotaWindowCooldownMs: Readonly<Record<'5h' | 'month', number>>
  affinity: boolean
  maxBodyBytes: number
  connectTimeoutMs: number
  idleTimeoutMs: number
  clientTimeoutMs: number
  maxAnswerBytes: number
  maxEventBytes: number
  maxTransientRetries: number
  keepAliveMs: number
  outputLimits: Record<string, number>
  modelMap: Record<string, string>
  userAgent: string
  listenHost: string
  allowedHosts: string[]
  corsOrigins: string[]
  verbose: boolean
  statusPage: boolean
  metricsPublic: boolean
  keptResponses: { count: number; maxAgeMs: number; maxBytes: number }
  now: () => number
}

export function envList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((v) => v.trim()).filter(Boolean)
}

/** `coder-model=65536,vision-model=8192` → a table; malformed pairs are ignored. */
export function parseOutputLimits(text: string | undefined): Record<string, number> {
  const limits: Record<string, number> = {}
  for (const pair of (text ?? '').split(',')) {
    const [model, value] = pair.split('=').map((s) => s.trim())
    const n = Number(value)
    if (model && Number.isInteger(n) && n > 0) limits[model] = n
  }
  return limits
}

export function resolveProxyOptions(options: ProxyAppOptions, env: NodeJS.ProcessEnv = process.env): ResolvedProxyOptions {
  const apiKeys = (options.apiKeys ?? []).filter(Boolean)
  // Where client keys are read, they become secrets no log line shows.
  for (const key of apiKeys) registerSecret(key)
  return {
    apiKeys,
    strategy: options.strategy ?? DEFAULTS.strategy,
    quotaCooldownMs: options.quotaCooldownMs ?? envNumber(env, 'QWENAUTH_QUOTA_COOLDOWN_MS') ?? DEFAULTS.quotaCooldownMs,
    rateLimitCooldownMs: options.rateLimitCooldownMs ?? DEFAULTS.rateLimitCooldownMs,
    quotaWindowCooldownMs: { ...DEFAULTS.quotaWindowCooldownMs, ...options.quotaWindowCooldownMs },
    affinity: options.affinity ?? env.QWENAUTH_AFFINITY === '1',
    maxBodyBytes: options.maxBodyBytes ?? envNumber(env, 'QWENAUTH_MAX_BODY_BYTES') ?? DEFAULTS.maxBodyBytes,
    connectTimeoutMs: options.connectTimeoutMs ?? envNumber(env, 'QWENAUTH_CONNECT_TIMEOUT_MS') ?? DEFAULTS.connectTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? envNumber(env, 'QWENAUTH_IDLE_TIMEOUT_MS') ?? DEFAULTS.idleTimeoutMs,
    clientTimeoutMs: options.clientTimeoutMs ?? envNumber(env, 'QWENAUTH_CLIENT_TIMEOUT_MS') ?? DEFAULTS.clientTimeoutMs,
    // A limit of 0 bytes would refuse every answer: 0 means the default here.
    maxAnswerBytes: options.maxAnswerBytes || envNumber(env, 'QWENAUTH_MAX_ANSWER_BYTES') || DEFAULTS.maxAnswerBytes,
    maxEventBytes: options.maxEventBytes || envNumber(env, 'QWENAUTH_MAX_EVENT_BYTES') || DEFAULTS.maxEventBytes,
    maxTransientRetries: options.maxTransientRetries ?? DEFAULTS.maxTransientRetries,
    keepAliveMs: options.keepAliveMs ?? DEFAULTS.keepAliveMs,
    outputLimits: { ...DEFAULTS.outputLimits, ...parseOutputLimits(env.QWENAUTH_MAX_OUTPUT_TOKENS), ...options.outputLimits },
    modelMap: { ...parseAliasFlags(envList(env.QWENAUTH_MODEL_MAP), 'QWENAUTH_MODEL_MAP'), ...options.modelMap },
    userAgent: options.userAgent ?? (env.QWENAUTH_USER_AGENT || DEFAULTS.qwenUserAgent),
    listenHost: options.listenHost ?? DEFAULTS.host,
    allowedHosts: [...(options.allowedHosts ?? []), ...envList(env.QWENAUTH_ALLOWED_HOSTS)],
    corsOrigins: [...(options.corsOrigins ?? []), ...envList(env.QWENAUTH_CORS_ORIGINS)],
    verbose: options.verbose ?? false,
    statusPage: options.statusPage ?? false,
    metricsPublic: options.metricsPublic ?? false,
    keptResponses: {
      count: options.keptResponses?.count ?? envNumber(env, 'QWENAUTH_RESPONSES_KEEP') ?? DEFAULTS.keptResponses,
      maxAgeMs: options.keptResponses?.maxAgeMs ?? envNumber(env, 'QWENAUTH_RESPONSES_KEEP_MS') ?? DEFAULTS.keptResponseMaxAgeMs,
      maxBytes: options.keptResponses?.maxBytes ?? DEFAULTS.keptResponseMaxBytes,
    },
    now: options.now ?? Date.now,
  }
}
