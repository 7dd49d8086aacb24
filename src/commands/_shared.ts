import { usageError } from '../lib/errors.ts'
import { parseResetDay } from '../pool/limits.ts'
import { parseAliasFlags } from '../pool/model-map.ts'

/** Flags several commands share, so they read and behave the same everywhere. */
export const accountArg = {
  account: { type: 'string', alias: 'a', description: 'Account id, unique id prefix, or label (default: the active account)', valueHint: 'id' },
} as const

export const jsonArg = {
  json: { type: 'boolean', description: 'Machine-readable JSON on stdout' },
} as const

/** stdout is for machine output only; one write so a pipe sees it whole. */
export function printOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/**
 * Every value of a flag that may repeat (`--alias a=b --alias c=d`): citty keeps only the last,
 * so they are collected from the raw arguments, up to `--`. A flag without a value is a usage error.
 */
export function repeatedValues(rawArgs: readonly string[], name: string, example: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? ''
    if (arg === '--') break
    if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3))
    else if (arg === `--${name}`) {
      const value = rawArgs[i + 1]
      if (value === undefined || value.startsWith('-')) throw usageError(`--${name} needs a value: --${name} ${example}`)
      values.push(value)
      i++
    }
  }
  return values
}

export const modelMapArg = {
  'model-map': {
    type: 'string',
    description: 'Requested model → model sent, for every account (e.g. claude-*haiku*=qwen3-coder-flash); repeatable or comma-separated; also QWENAUTH_MODEL_MAP',
    valueHint: 'from=to',
  },
} as const

/** Flags that set what an account's owner decides beside its credential (login and edit share them). */
export const accountSettingArgs = {
  alias: { type: 'string', description: 'Model rename for this account (patterns such as claude-*haiku*=name too), repeatable or comma-separated', valueHint: 'coder-model=name' },
  limit: { type: 'string', description: 'Pass the account over at a limit: 5h=1200, week=9000, month-tokens=50M, a preset of the plan (lite, pro, free, free-credits), or none; repeatable', valueHint: 'window=count' },
  'reset-day': { type: 'string', description: "Day of the month the plan's monthly quota resets (its subscription day), or none", valueHint: '1-31' },
  'user-agent': { type: 'string', description: "Send this User-Agent instead of the client's (only if you, the account's owner, decide so), or none", valueHint: 'UA' },
} as const

/** `--user-agent`: a header value (printable, one line), or none to forward the client's again. */
export function parseUserAgent(text: string): string | null {
  const value = text.trim()
  if (value === 'none') return null
  if (!value || !/^[\x20-\x7e]+$/.test(value)) throw usageError(`--user-agent wants a User-Agent (printable ASCII on one line, e.g. "QwenCode/0.25.0 (linux; x64)") or none, got "${text}"`)
  return value
}

/** What `accountSettingArgs` were given, parsed (a `--limit` preset name is resolved later, by the account's provider). */
export interface AccountSettingFlags {
  aliases?: Record<string, string>
  limits?: string[]
  quotaResetDay?: number | null
  userAgent?: string | null
}

export function accountSettingFlags(args: { 'reset-day'?: string | undefined; 'user-agent'?: string | undefined }, rawArgs: readonly string[]): AccountSettingFlags {
  const aliases = repeatedValues(rawArgs, 'alias', 'coder-model=<provider model>')
  const limits = repeatedValues(rawArgs, 'limit', 'week=9000')
  return {
    ...(aliases.length > 0 ? { aliases: parseAliasFlags(aliases) } : {}),
    ...(limits.length > 0 ? { limits } : {}),
    ...(args['reset-day'] !== undefined ? { quotaResetDay: parseResetDay(args['reset-day']) } : {}),
    ...(args['user-agent'] !== undefined ? { userAgent: parseUserAgent(args['user-agent']) } : {}),
  }
}
