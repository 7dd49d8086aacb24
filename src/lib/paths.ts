import { homedir } from 'node:os'
import { resolve } from 'pathe'

/** `$QWEN_HOME`, else `~/.qwen`, as the official CLI resolves it. */
export function qwenHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.QWEN_HOME ? resolve(env.QWEN_HOME) : resolve(homedir(), '.qwen')
}

/** Storage keys (unstorage, `:`-separated) and the file paths they map to under QWEN_HOME. */
export const KEYS = {
  credsFile: 'oauth_creds.json',
  accounts: 'qwenauth:accounts.json',
  stats: 'qwenauth:stats.json',
} as const

export const LOCK_NAMES = {
  /** The official CLI's lock file name; shared with it. */
  creds: 'oauth_creds',
  store: 'qwenauth-store',
  account: (id: string) => `account-${id}`,
} as const
