import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logger } from '../lib/logger.ts'
import { credentialEnv, type ClientCredentials } from './child-env.ts'
import { programArgsStart, type KnownProgram, type Launch } from './program-args.ts'

const CLAUDE: KnownProgram = { name: 'claude', packageName: '@anthropic-ai/claude-code' }

/**
 * The variables that choose another provider than the Anthropic API (Bedrock, Vertex, Foundry
 * and the rest: Claude Code 2.1's list). Set in the user's settings or shell, any of them would
 * send requests past the proxy; an empty value turns it off.
 */
const PROVIDER_SWITCHES = [
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
  'CLAUDE_CODE_USE_FOUNDRY',
  'CLAUDE_CODE_USE_ANTHROPIC_AWS',
  'CLAUDE_CODE_USE_ANTHROPIC_GOOGLE_CLOUD',
  'CLAUDE_CODE_USE_MANTLE',
  'CLAUDE_CODE_USE_GATEWAY',
]

/**
 * Where Claude Code's own arguments start, when the program is Claude Code: `claude` itself
 * (the native `claude.exe` included) or `npx @anthropic-ai/claude-code`. Undefined otherwise.
 */
export function claudeArgsStart(command: string, args: readonly string[]): number | undefined {
  return programArgsStart(CLAUDE, command, args)
}

/**
 * The settings `--settings` hands Claude Code. Claude Code applies the `env` block of its user,
 * project and local settings over the environment it was started with, so a settings.json that
 * sets ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN (as Alibaba's Coding Plan guide has users do)
 * would send every request past the proxy. Flag settings outrank all three (only an
 * administrator's managed settings outrank them), so the same variables here win:
 * - the proxy's URL, the one-time key and the models, as exec sets them in the environment;
 * - ANTHROPIC_API_KEY empty: a key of the user's own would be sent too (as x-api-key);
 * - apiKeyHelper empty: a helper's key would likewise be sent beside the one-time key
 *   (`null` is refused, and Claude Code then silently drops the whole flag settings);
 * - the provider switches empty, so Claude Code talks to the Anthropic API at the proxy.
 */
export function claudeSettings(credentials: ClientCredentials): { apiKeyHelper: string; env: Record<string, string> } {
  const anthropic = Object.entries(credentialEnv(credentials)).filter(([name]) => name.startsWith('ANTHROPIC_'))
  return {
    apiKeyHelper: '',
    env: { ...Object.fromEntries(anthropic), ANTHROPIC_API_KEY: '', ...Object.fromEntries(PROVIDER_SWITCHES.map((name) => [name, ''])) },
  }
}

/**
 * The program's arguments when it is Claude Code (under the proxy): `--settings FILE` inserted
 * before the user's arguments, so the user's own flags and subcommands still apply (a
 * `--settings` of the user's own replaces this one). The settings hold the one-time key, so they
 * go in a file (0600, in a private 0700 directory, removed by `cleanup` once Claude Code has
 * exited) rather than on the command line, where any local user's `ps` would show the key.
 * Anything else is returned unchanged.
 */
export async function claudeLaunch(command: string, args: readonly string[], credentials: ClientCredentials, home?: string): Promise<Launch> {
  const at = claudeArgsStart(command, args)
  if (at === undefined || !credentials.anthropicBaseUrl) return { args: [...args], env: {} }
  if (args.slice(at).some((arg) => arg === '--settings' || arg.startsWith('--settings='))) {
    logger.warn("your --settings replaces the one exec gives Claude Code (it keeps only the last): an env block or apiKeyHelper in your settings files may then route around qwenauth")
  }
  const settings = JSON.stringify(claudeSettings(credentials))
  let dir: string | undefined
  let flag: string | undefined
  let failure: unknown
  // TMPDIR first; when it cannot be written, the store's own directory (0700 too).
  for (const parent of [tmpdir(), ...(home ? [join(home, 'qwenauth')] : [])]) {
    try {
      // mkdtemp makes the directory 0700.
      dir = await mkdtemp(join(parent, 'qwenauth-claude-'))
      flag = join(dir, 'settings.json')
      await writeFile(flag, settings, { mode: 0o600, flag: 'wx' })
      break
    } catch (error) {
      if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {})
      dir = flag = undefined
      failure = error
    }
  }
  if (!flag) {
    // Still better than a run that silently goes past qwenauth: the key dies with this run.
    logger.warn(`could not write Claude Code's settings file (${(failure as Error).message}); passing them on the command line, where ps shows the one-time key for this run`)
    flag = settings
  }
  const written = dir
  return {
    args: [...args.slice(0, at), '--settings', flag, ...args.slice(at)],
    env: {},
    ...(written ? { cleanup: () => rm(written, { recursive: true, force: true }) } : {}),
  }
}
