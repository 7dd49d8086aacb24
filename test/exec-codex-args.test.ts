/** Which programs `exec` recognises as Codex, and what it adds to their command line. */
import { describe, expect, it } from 'vitest'
import { CODEX_KEY_ENV, codexArgsStart, codexOverrides } from '../src/exec/codex.ts'

describe('recognising Codex', () => {
  it.each([
    ['codex', ['exec', 'hi'], 0],
    ['/usr/local/bin/codex', [], 0],
    ['C:\\Users\\me\\AppData\\Roaming\\npm\\codex.cmd', ['exec'], 0],
    ['codex.exe', [], 0],
    ['npx', ['@openai/codex', 'exec', 'hi'], 1],
    ['npx', ['-y', '@openai/codex@0.171.0', 'exec'], 2],
    ['npx', ['-p', '@openai/codex', 'codex', 'exec'], 3],
    ['/usr/bin/bunx', ['@openai/codex'], 1],
    ['npx', ['cowsay', 'codex'], undefined],
    ['npx', ['@openai/codex-sdk'], undefined],
    ['node', ['codex.js'], undefined],
    ['qwen', ['-p', 'codex'], undefined],
    ['codexy', [], undefined],
  ] as const)('%s %j → %s', (command, args, expected) => {
    expect(codexArgsStart(command, args)).toBe(expected)
  })
})

describe("Codex's overrides", () => {
  it('name a responses provider for the proxy, the key variable, the model and the catalog, as TOML strings', () => {
    const flags = codexOverrides({ apiKey: 'k', baseUrl: 'http://127.0.0.1:4321/v1', model: 'coder-model' }, '/home/u/.qwen/qwenauth/codex/model-catalog-ab.json')
    expect(flags).toEqual([
      '-c',
      'model_provider="qwenauth"',
      '-c',
      `model_providers.qwenauth={name="qwenauth",base_url="http://127.0.0.1:4321/v1",env_key="${CODEX_KEY_ENV}",wire_api="responses"}`,
      '-c',
      'model="coder-model"',
      '-c',
      'model_catalog_json="/home/u/.qwen/qwenauth/codex/model-catalog-ab.json"',
    ])
    // A Windows path's backslashes are escaped, as a TOML basic string needs.
    expect(codexOverrides({ apiKey: 'k', baseUrl: 'u', model: 'm' }, 'C:\\q\\catalog.json').at(-1)).toBe('model_catalog_json="C:\\\\q\\\\catalog.json"')
  })
})
