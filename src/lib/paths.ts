import { homedir } from 'node:os'
import { resolve } from 'pathe'

/**
 * `$QWEN_HOME`, else `~/.qwen`, as the official CLI resolves it (its Storage.getGlobalQwenDir):
 * a leading `~` or `~/` is the home directory (a quoted value in a unit file or a .env reaches
 * us unexpanded), anything relative is taken from the working directory.
 */
export function qwenHome(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.QWEN_HOME
  if (!dir) return resolve(homedir(), '.qwen')
  if (dir === '~' || dir.startsWith('~/') || dir.startsWith('~\\')) return resolve(homedir(), dir.slice(2))
  return resolve(dir)
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
