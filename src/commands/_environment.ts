import { DEFAULTS } from '../defaults.ts'

/**
 * The environment variables qwenauth reads, for `--help`; the README's Environment table says
 * the same at more length.
 */
export const ENVIRONMENT: Record<string, string> = {
  QWEN_HOME: 'the store directory instead of ~/.qwen (also read from ~/.qwen/.env, ~/.env)',
  QWENAUTH_STORAGE: 'the store: a directory or redis://[user:pass@]host:port[/db] (as --storage)',
  QWENAUTH_STORAGE_PREFIX: 'prefix of every Redis key (default qwenauth)',
  QWENAUTH_LOCK_STALE_MS: `age after which a lock file counts as abandoned (default ${DEFAULTS.lockStaleMs})`,
  QWENAUTH_REDIS_LOCK_TTL_MS: `lifetime of a Redis lock whose holder went away (default ${DEFAULTS.redisLockTtlMs})`,
  QWENAUTH_DEBUG: '1: debug messages on stderr (redacted)',
  NO_COLOR: 'any value: no colours (there are none either when output is not a terminal)',
  QWENAUTH_OAUTH_URL: 'the OAuth server root instead of https://chat.qwen.ai',
  QWENAUTH_NO_BROWSER: '1: never open a browser (as --no-browser)',
  'SSH_*, CI, DISPLAY': 'no browser is opened over SSH, in CI, or on Linux without DISPLAY or WAYLAND_DISPLAY',
  QWENAUTH_REFRESH_TIMEOUT_MS: `timeout of one token refresh (default ${DEFAULTS.refreshTimeoutMs})`,
  QWEN_CODE_SYSTEM_SETTINGS_PATH: 'system settings of the official qwen CLI, merged into the layer handed to it',
  QWENAUTH_API_KEYS: 'client keys, comma-separated (as --api-key)',
  QWENAUTH_ALLOWED_HOSTS: 'more Host names to answer to, comma-separated (as --allowed-host)',
  QWENAUTH_CORS_ORIGINS: 'web origins allowed to call the proxy, comma-separated (as --cors-origin)',
  QWENAUTH_NO_UI: '1: no status page (as --no-ui)',
  QWENAUTH_METRICS_PUBLIC: '1: GET /metrics without a client key (as --metrics-public)',
  QWENAUTH_USER_AGENT: "User-Agent for Qwen OAuth accounts (as serve --user-agent); key accounts get the client's",
  QWENAUTH_QUOTA_COOLDOWN_MS: `rest after a spent quota that names no window and gives no time (default ${DEFAULTS.quotaCooldownMs})`,
  QWENAUTH_AFFINITY: '1: keep each conversation on the account that served it before (as --affinity)',
  QWENAUTH_MAX_BODY_BYTES: `largest request body (default ${DEFAULTS.maxBodyBytes})`,
  QWENAUTH_CONNECT_TIMEOUT_MS: `wait for the head of a streaming answer or a GET (default ${DEFAULTS.connectTimeoutMs})`,
  QWENAUTH_IDLE_TIMEOUT_MS: `longest upstream silence (default ${DEFAULTS.idleTimeoutMs})`,
  QWENAUTH_MAX_OUTPUT_TOKENS: 'output caps, e.g. coder-model=32768',
  QWENAUTH_MODEL_MAP: 'requested model → model sent, for every account, e.g. claude-*haiku*=qwen3-coder-flash (as --model-map)',
  QWENAUTH_POOL_REFRESH_MS: `how often the account list and the usage limits are checked against are re-read (default ${DEFAULTS.poolRefreshMs})`,
}

/** What every command that uses the store reads: where it is and how its locks behave. */
export const STORE_ENV = ['QWEN_HOME', 'QWENAUTH_STORAGE', 'QWENAUTH_STORAGE_PREFIX', 'QWENAUTH_LOCK_STALE_MS', 'QWENAUTH_REDIS_LOCK_TTL_MS'] as const

/** What every command reads. */
export const OUTPUT_ENV = ['QWENAUTH_DEBUG', 'NO_COLOR'] as const

/** A command that refreshes tokens. */
export const REFRESH_ENV = ['QWENAUTH_OAUTH_URL', 'QWENAUTH_REFRESH_TIMEOUT_MS'] as const

/** A command that runs the proxy (serve, and exec's private one). */
export const PROXY_ENV = [
  'QWENAUTH_QUOTA_COOLDOWN_MS',
  'QWENAUTH_MAX_BODY_BYTES',
  'QWENAUTH_CONNECT_TIMEOUT_MS',
  'QWENAUTH_IDLE_TIMEOUT_MS',
  'QWENAUTH_MAX_OUTPUT_TOKENS',
  'QWENAUTH_MODEL_MAP',
  'QWENAUTH_USER_AGENT',
  'QWENAUTH_POOL_REFRESH_MS',
  'QWENAUTH_AFFINITY',
] as const
