/**
 * Every default qwenauth has, stated once. Flags, environment variables and options fall back
 * to these; help texts and the README quote them from here.
 */
export const DEFAULTS = {
  /** `token` refreshes a token with less than this left (the official CLI's margin, docs/qwen-protocol.md §4). */
  tokenRefreshMarginMs: 30_000,
  /** `env` and `exec --direct` hand out real tokens that must last a while. */
  directRefreshMarginMs: 10 * 60_000,
  /** Which account serves first: the active one until it fails. */
  strategy: 'fill-first',
  /** Rest after a `429 insufficient_quota` (QWENAUTH_QUOTA_COOLDOWN_MS). */
  quotaCooldownMs: 30 * 60_000,
  /** Rest after another 429 that names no Retry-After. */
  rateLimitCooldownMs: 60_000,
  /**
   * Rest after a spent quota window whose reset cannot be known and that the provider gives no
   * time for: a 5-hour window nothing was counted in (its oldest request decides), a month
   * whose reset day is not set. One request tries the account after it.
   */
  quotaWindowCooldownMs: { '5h': 15 * 60_000, month: 24 * 60 * 60_000 } as Readonly<Record<'5h' | 'month', number>>,
  /** A request that finds the only account's trial request under way is told to retry after this. */
  trialRetryAfterMs: 1000,
  /**
   * The longest wait a client's own retry covers: the OpenAI SDKs honour a Retry-After up to 60 s.
   * When every account is back within it, the answer is a rate limit (clients wait and retry),
   * not a spent quota (Codex stops at `insufficient_quota` whatever the Retry-After).
   */
  clientRetryWaitMs: 60_000,
  /** One `GET /key` of `status --provider-usage`. */
  providerUsageTimeoutMs: 10_000,
  /** Conversations whose account `--affinity` remembers, at most (the least recently used go first). */
  affinityMaxEntries: 10_000,
  /** A conversation idle this long is forgotten by `--affinity` (providers' prompt caches are gone by then). */
  affinityMaxAgeMs: 60 * 60_000,
  /** Largest request body (QWENAUTH_MAX_BODY_BYTES). */
  maxBodyBytes: 32 * 1024 * 1024,
  /** Wait for the head of a streaming answer or a GET (QWENAUTH_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: 30_000,
  /** Longest upstream silence, a non-streaming answer included (QWENAUTH_IDLE_TIMEOUT_MS). */
  idleTimeoutMs: 10 * 60_000,
  /**
   * Longest silence from a client while `serve` waits on it (QWENAUTH_CLIENT_TIMEOUT_MS): a
   * connection with no request in flight is closed, headers or a body that stop arriving get a
   * 408. Answers in flight, streamed or not, are not affected.
   */
  clientTimeoutMs: 10_000,
  /** Largest whole (non-streaming) upstream answer held for one request (QWENAUTH_MAX_ANSWER_BYTES). */
  maxAnswerBytes: 64 * 1024 * 1024,
  /** Largest single streamed event held until its end arrives (QWENAUTH_MAX_EVENT_BYTES). */
  maxEventBytes: 16 * 1024 * 1024,
  /**
   * Upstream requests Bun runs at once in `serve` (BUN_CONFIG_MAX_HTTP_REQUESTS, which `serve`
   * sets for itself when unset): Bun's most. Its own default, 256, would queue the rest.
   */
  runtimeFetchLimit: 65_535,
  /** Bun's own limit when BUN_CONFIG_MAX_HTTP_REQUESTS is unset (`exec`, `token`). */
  bunDefaultFetchLimit: 256,
  /** Runtime fetch slots model traffic leaves free, so a token refresh never queues behind it. */
  refreshFetchReserve: 64,
  /**
   * How often a silent upstream gets a keep-alive event where the client's protocol has one
   * (Anthropic's `ping`; Claude Code aborts a stream silent for 300 s).
   */
  keepAliveMs: 10_000,
  /** Upstream 5xx answers and network errors tolerated per request before giving up. */
  maxTransientRetries: 2,
  /** Output token caps by model (Qwen OAuth's models, docs/qwen-protocol.md §5; QWENAUTH_MAX_OUTPUT_TOKENS). */
  outputLimits: { 'coder-model': 65_536, 'vision-model': 8_192, 'qwen3-coder-plus': 65_536 } as Readonly<Record<string, number>>,
  /** Context windows of the same models (docs/qwen-protocol.md §5), for agents that ask for them. */
  contextWindows: { 'coder-model': 1_000_000, 'vision-model': 131_072, 'qwen3-coder-plus': 1_000_000 } as Readonly<Record<string, number>>,
  /** How old the pool's snapshot of the accounts may get (QWENAUTH_POOL_REFRESH_MS). */
  poolRefreshMs: 1000,
  /** The official CLI's User-Agent shape, sent for Qwen OAuth accounts (QWENAUTH_USER_AGENT). */
  qwenUserAgent: `QwenCode/0.24.4 (${process.platform}; ${process.arch})`,
  /** `serve`'s address. */
  host: '127.0.0.1',
  port: 8787,
  /** How long `serve` lets requests in flight finish on SIGTERM. */
  drainMs: 5000,
  /** `anthropic-version` sent to a native Anthropic upstream when the client sent none (the Messages API's current one). */
  anthropicVersion: '2023-06-01',
  /** count_tokens' estimate of one image: Qwen-VL's most tokens per image (1280 patches of 28×28 pixels). */
  imageTokens: 1280,
  /** One refresh request (QWENAUTH_REFRESH_TIMEOUT_MS; the official CLI's 30 s). */
  refreshTimeoutMs: 30_000,
  /** Age after which a lock file counts as abandoned (QWENAUTH_LOCK_STALE_MS): 35 s as in qwen-code 0.24.4; an older CLI uses 10 s, which the lock heartbeat also satisfies. */
  lockStaleMs: 35_000,
  /** Lifetime of a Redis lock whose holder stopped extending it (QWENAUTH_REDIS_LOCK_TTL_MS). */
  redisLockTtlMs: 10_000,
  /** Responses kept for `previous_response_id` and `GET /v1/responses/{id}`: how many (QWENAUTH_RESPONSES_KEEP)… */
  keptResponses: 1000,
  /** …for how long (QWENAUTH_RESPONSES_KEEP_MS)… */
  keptResponseMaxAgeMs: 6 * 60 * 60_000,
  /** …and, kept in memory (no Redis), in how many bytes at most. */
  keptResponseMaxBytes: 64 * 1024 * 1024,
} as const
