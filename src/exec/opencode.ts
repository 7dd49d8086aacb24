import { DEFAULTS } from '../defaults.ts'
import { logger } from '../lib/logger.ts'
import { programArgsStart, type KnownProgram } from './program-args.ts'

/**
 * opencode reads no OPENAI_BASE_URL: it talks to providers from its config (and its own login),
 * so under `exec` it would skip the proxy and use whatever provider the user set up. It does
 * read OPENCODE_CONFIG_CONTENT, inline JSON merged over the user's global and project configs
 * (opencode 1.18); exec sets it to a provider for the variables it hands over, and that
 * provider's model. Nothing is written, the user's own providers and settings stay, and
 * opencode's own `-m` still wins. Set for every program, like the qwen settings layer, so it also
 * reaches opencode started by a script.
 */
export const OPENCODE_CONFIG_ENV = 'OPENCODE_CONFIG_CONTENT'
const PROVIDER = 'qwenauth'
const OPENCODE: KnownProgram = { name: 'opencode', packageName: 'opencode-ai' }

export function isOpencode(command: string, args: readonly string[]): boolean {
  return programArgsStart(OPENCODE, command, args) !== undefined
}

/** The config exec gives opencode: the README's provider block, on OPENAI_BASE_URL and OPENAI_API_KEY. */
export function opencodeConfig(model: string): Record<string, unknown> {
  const context = DEFAULTS.contextWindows[model]
  const output = DEFAULTS.outputLimits[model]
  return {
    $schema: 'https://opencode.ai/config.json',
    model: `${PROVIDER}/${model}`,
    provider: {
      [PROVIDER]: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Qwen via qwenauth',
        // References, not values: the key stays in OPENAI_API_KEY only.
        options: { baseURL: '{env:OPENAI_BASE_URL}', apiKey: '{env:OPENAI_API_KEY}' },
        models: { [model]: { name: `${model} (qwenauth)`, ...(context && output ? { limit: { context, output } } : {}) } },
      },
    },
  }
}

/**
 * The variable for the child, unless the user set one of their own: that one is left as it is
 * (opencode then uses the proxy only if it names the provider), with a warning when the
 * program is opencode.
 */
export function opencodeEnv(command: string, args: readonly string[], model: string, env: NodeJS.ProcessEnv): Record<string, string> {
  if (env[OPENCODE_CONFIG_ENV] !== undefined) {
    if (isOpencode(command, args)) logger.warn(`${OPENCODE_CONFIG_ENV} is already set, so exec leaves it as it is: opencode uses qwenauth only if it names a provider on {env:OPENAI_BASE_URL} and {env:OPENAI_API_KEY} (see the README, "opencode")`)
    return {}
  }
  return { [OPENCODE_CONFIG_ENV]: JSON.stringify(opencodeConfig(model)) }
}
