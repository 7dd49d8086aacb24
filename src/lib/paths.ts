import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'pathe'

/**
 * `$QWEN_HOME`, else `~/.qwen`, as the official CLI resolves it (its Storage.getGlobalQwenDir):
 * a leading `~` or `~/` is the home directory (a quoted value in a unit file or a .env reaches
 * us unexpanded), anything relative is taken from the working directory.
 */
export function qwenHome(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.QWEN_HOME || qwenHomeFromDotenv()
  if (!dir) return resolve(homedir(), '.qwen')
  if (dir === '~' || dir.startsWith('~/') || dir.startsWith('~\\')) return resolve(homedir(), dir.slice(2))
  return resolve(dir)
}

/**
 * The official CLI also takes QWEN_HOME from `~/.qwen/.env`, then `~/.env`, when the
 * environment does not set it; so must we, or the two would use different directories.
 * Only that one key is read (the binary loads no .env of the working directory).
 */
function qwenHomeFromDotenv(): string | undefined {
  for (const file of [join(homedir(), '.qwen', '.env'), join(homedir(), '.env')]) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    const match = /^[ \t]*(?:export[ \t]+)?QWEN_HOME[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)'|([^#\r\n]*))/m.exec(text)
    const value = (match?.[1] ?? match?.[2] ?? match?.[3] ?? '').trim()
    if (value) return value
  }
  return undefined
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
