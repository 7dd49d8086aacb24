import { ExitCode, QwenauthError } from '../lib/errors.ts'
import { oneLine } from '../lib/one-line.ts'
import { redact, registerSecret } from '../lib/redact.ts'
import type { QuotaWindow } from './usage-windows.ts'

/** One credential qwenauth can serve requests with: a Qwen OAuth login or an API key. */
export type AccountKind = 'qwen-oauth' | 'api-key'

export type AccountStatus = 'ok' | 'needs-login' | 'cooling-down' | 'not-served'

/** A cap the account's owner set on what qwenauth sends it in one window (`--limit week=9000`). */
export interface QuotaLimit {
  window: QuotaWindow
  unit: 'requests' | 'tokens'
  max: number
}

export interface AccountError {
  message: string
  at: number
  code?: string
}

export interface Account {
  /** Stable and short, for `use`, `logout`, `--account`. */
  id: string
  /** For people: the email or name in the token, a key's provider label, else the id. */
  label: string
  kind: AccountKind
  /** `qwen-oauth`, a provider preset name, or `custom`. */
  provider: string
  /** OpenAI-compatible base URL ending in /v1 (or the provider's own path). */
  baseUrl: string
  /**
   * The provider's Anthropic Messages base URL (`…/apps/anthropic`, without `/v1`), for a custom
   * account whose provider speaks it; presets take theirs from the provider table.
   */
  anthropicBaseUrl?: string
  /** Model used when a client names none, and for OPENAI_MODEL. */
  model?: string
  /** Per-account model renames, over the provider's table (`coder-model` → the provider's name). */
  aliases?: Record<string, string>
  accessToken?: string
  refreshToken?: string
  tokenType?: string
  /** As the token endpoint sent it, kept for oauth_creds.json. */
  resourceUrl?: string
  /** Epoch ms. */
  expiresAt?: number
  /** Who the token names (`sub` or email), to recognise the same login again. */
  subject?: string
  apiKey?: string
  /** Passed over once one is reached, until its window frees up (`--limit`). */
  limits?: QuotaLimit[]
  /** Day of the month the plan's monthly quota resets (its subscription day), 1-31 (`--reset-day`). */
  quotaResetDay?: number
  /** A User-Agent its owner fixed for a key account, sent instead of the client's (`--user-agent`). */
  userAgent?: string
  status: AccountStatus
  cooldownUntil?: number
  lastError?: AccountError
  createdAt: number
  updatedAt: number
}

/** `qwenauth/accounts.json`: accounts in pool order; the first is the active one. */
export interface AccountsDoc {
  version: 1
  accounts: Account[]
  /** Id of the account whose tokens are in oauth_creds.json, if any. */
  mirrored?: string
}

export function emptyDoc(): AccountsDoc {
  return { version: 1, accounts: [] }
}

/** Status as of `now`: a cooldown that has run out is `ok` again. */
export function effectiveStatus(account: Account, now = Date.now()): AccountStatus {
  if (account.status === 'cooling-down' && (account.cooldownUntil ?? 0) <= now) return 'ok'
  return account.status
}

/**
 * The account a name means, most specific first: the exact id; else the label, exactly and then
 * regardless of case (emails are not case-sensitive); else a unique id prefix, as git and docker
 * take short ids. Undefined when nothing matches or the name is ambiguous at its level.
 */
export function findAccount(doc: AccountsDoc, idOrLabel: string): Account | undefined {
  const lower = idOrLabel.toLowerCase()
  const levels: Array<(a: Account) => boolean> = [
    (a) => a.id === idOrLabel,
    (a) => a.label === idOrLabel,
    (a) => a.label.toLowerCase() === lower,
    (a) => a.id.toLowerCase().startsWith(lower),
  ]
  for (const matches of levels) {
    const found = doc.accounts.filter(matches)
    if (found.length > 0) return found.length === 1 ? found[0] : undefined
  }
  return undefined
}

/** The named account (an id, a label, a unique id prefix), or a usage error listing the matches or the ids. */
export function requireAccount(doc: AccountsDoc, idOrLabel: string): Account {
  if (!idOrLabel.trim()) throw new QwenauthError('an account id or label is empty: name one (see `qwenauth status`)', ExitCode.usage)
  const account = findAccount(doc, idOrLabel)
  if (account) return account
  const lower = idOrLabel.toLowerCase()
  const candidates = doc.accounts.filter((a) => a.label.toLowerCase() === lower || a.id.toLowerCase().startsWith(lower))
  if (candidates.length > 1) {
    const listed = candidates.map((a) => `${a.id} (${a.label})`).join(', ')
    throw new QwenauthError(`"${idOrLabel}" names more than one account: ${listed}; give more of the id`, ExitCode.usage)
  }
  const known = doc.accounts.map((a) => a.id).join(', ') || 'none; run `qwenauth login`'
  throw new QwenauthError(`no account "${idOrLabel}" (accounts: ${known})`, ExitCode.usage)
}

/** A credential usable for at least `marginMs` more: any API key, or an OAuth token not about to expire. */
export function hasUsableToken(account: Account, marginMs: number, now = Date.now()): boolean {
  if (account.kind === 'api-key') return Boolean(account.apiKey)
  return Boolean(account.accessToken) && (account.expiresAt ?? 0) - marginMs > now
}

/** What a client sends as its bearer: the API key, or the OAuth access token. */
export function bearerOf(account: Account): string {
  const credential = account.kind === 'api-key' ? account.apiKey : account.accessToken
  if (!credential) throw new QwenauthError(`account ${account.label} has no usable credential: run \`qwenauth login\``, ExitCode.needsLogin)
  return credential
}

/**
 * Why an account last failed, as it is stored and shown. Redacted and put on one line here, once:
 * the text is often an upstream's own words, which may repeat a token or key or hold line breaks
 * and escape sequences, and every view shows it as stored.
 */
export function accountError(message: string, at: number, code?: string): AccountError {
  return { message: oneLine(redact(message)), at, ...(code ? { code } : {}) }
}

/** Every secret an account holds, for the redaction of log lines. */
export function registerAccountSecrets(accounts: readonly Account[]): void {
  for (const a of accounts) for (const secret of [a.accessToken, a.refreshToken, a.apiKey]) registerSecret(secret)
}
