/** The config variable `exec` gives opencode, and which programs it recognises as opencode. */
import { describe, expect, it } from 'vitest'
import { isOpencode, OPENCODE_CONFIG_ENV, opencodeEnv } from '../src/exec/opencode.ts'

describe('recognising opencode', () => {
  it.each([
    ['opencode', ['run', 'hi'], true],
    ['/usr/local/bin/opencode', [], true],
    ['C:\\Users\\me\\AppData\\Roaming\\npm\\opencode.cmd', [], true],
    ['npx', ['-y', 'opencode-ai@1.18.33', 'run'], true],
    ['bunx', ['opencode-ai'], true],
    ['npx', ['opencode-ai-plugin'], false],
    ['codex', ['exec'], false],
  ] as const)('%s %j → %s', (command, args, expected) => {
    expect(isOpencode(command, args)).toBe(expected)
  })
})

describe("opencode's config variable", () => {
  it("names a provider on exec's OPENAI_* variables (references, not the key) and its model, with the limits qwenauth knows", () => {
    const env = opencodeEnv('opencode', [], 'coder-model', {})
    const config = JSON.parse(env[OPENCODE_CONFIG_ENV] ?? '{}')
    expect(config.model).toBe('qwenauth/coder-model')
    expect(config.provider.qwenauth).toEqual({
      npm: '@ai-sdk/openai-compatible',
      name: 'Qwen via qwenauth',
      options: { baseURL: '{env:OPENAI_BASE_URL}', apiKey: '{env:OPENAI_API_KEY}' },
      models: { 'coder-model': { name: 'coder-model (qwenauth)', limit: { context: 1_000_000, output: 65_536 } } },
    })
    // A model qwenauth knows no limits of gets none: opencode's defaults apply.
    expect(JSON.parse(opencodeEnv('sh', [], 'qwen3.6-plus', {})[OPENCODE_CONFIG_ENV] ?? '{}').provider.qwenauth.models).toEqual({ 'qwen3.6-plus': { name: 'qwen3.6-plus (qwenauth)' } })
  })

  it("leaves the user's own variable as it is", () => {
    expect(opencodeEnv('opencode', ['run'], 'coder-model', { [OPENCODE_CONFIG_ENV]: '{"model":"mine/m"}' })).toEqual({})
  })
})
