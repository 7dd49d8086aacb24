import { logger } from '../lib/logger.ts'
import { agentArgsStart, type AgentProgram } from './agent-program.ts'
import type { ClientCredentials } from './child-env.ts'
import { writeCodexCatalog } from './codex-catalog.ts'

/** The variable Codex reads the proxy's key from (the provider's `env_key`); only the child has it. */
export const CODEX_KEY_ENV = 'QWENAUTH_CODEX_KEY'
const PROVIDER = 'qwenauth'

const CODEX: AgentProgram = { bin: 'codex', pkg: '@openai/codex' }

/**
 * Where Codex's own arguments start in the program's arguments, when the program is Codex:
 * `codex` itself (any path, `.cmd`/`.exe` included) or run by a package runner
 * (`npx [-y] @openai/codex[@version]`, `npx -p @openai/codex codex`). Undefined for any other
 * program, which `exec` then leaves exactly as it was given.
 */
export function codexArgsStart(command: string, args: readonly string[]): number | undefined {
  return agentArgsStart(CODEX, command, args)
}

/** A TOML string (JSON's escapes are TOML's), for `-c key=value`. */
const toml = (value: string) => JSON.stringify(value)

/**
 * The `-c` overrides that give Codex a provider pointing at the private proxy. They go before
 * the user's arguments, so the user's own `-c`, `-m` and subcommands still apply, and they
 * change nothing on disk: Codex keeps the user's CODEX_HOME (config, history, sessions, MCP
 * servers, trusted projects) and never reads or writes its login (`auth.json`), since the
 * provider's key comes from CODEX_KEY_ENV. (A private CODEX_HOME was the other way: it hides
 * the user's history and setup, and interactive Codex then starts a background daemon that
 * outlives the run and keeps the first run's key.)
 */
export function codexOverrides(credentials: ClientCredentials, catalogPath: string | undefined): string[] {
  const provider = `{name=${toml(PROVIDER)},base_url=${toml(credentials.baseUrl)},env_key=${toml(CODEX_KEY_ENV)},wire_api="responses"}`
  return [
    '-c',
    `model_provider=${toml(PROVIDER)}`,
    '-c',
    `model_providers.${PROVIDER}=${provider}`,
    '-c',
    `model=${toml(credentials.model)}`,
    ...(catalogPath ? ['-c', `model_catalog_json=${toml(catalogPath)}`] : []),
  ]
}

/**
 * The program's arguments and extra environment when it is Codex: the overrides inserted where
 * Codex's own arguments start, the catalog file written, the key in CODEX_KEY_ENV. Anything
 * else is returned unchanged.
 */
export async function codexLaunch(command: string, args: readonly string[], credentials: ClientCredentials, qwenHome: string): Promise<{ args: string[]; env: Record<string, string> }> {
  const at = codexArgsStart(command, args)
  if (at === undefined) return { args: [...args], env: {} }
  let catalog: string | undefined
  try {
    catalog = await writeCodexCatalog(qwenHome, credentials.model)
  } catch (error) {
    logger.warn(`could not write Codex's model catalog (${(error as Error).message}); Codex will use fallback metadata for ${credentials.model}, without apply_patch`)
  }
  return { args: [...args.slice(0, at), ...codexOverrides(credentials, catalog), ...args.slice(at)], env: { [CODEX_KEY_ENV]: credentials.apiKey } }
}
