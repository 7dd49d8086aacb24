/** Which programs `exec` recognises as Claude Code, and the settings it hands them. */
import { describe, expect, it } from 'vitest'
import { claudeArgsStart, claudeSettings } from '../src/exec/claude.ts'

describe('recognising Claude Code', () => {
  it.each([
    ['claude', ['-p', 'hi'], 0],
    ['/home/u/.local/bin/claude', [], 0],
    ['/repo/node_modules/@anthropic-ai/claude-code/bin/claude.exe', ['-p', 'hi'], 0],
    ['C:\\Users\\me\\AppData\\Roaming\\npm\\claude.cmd', [], 0],
    ['npx', ['@anthropic-ai/claude-code', '-p', 'hi'], 1],
    ['npx', ['-y', '@anthropic-ai/claude-code@2.1.0', 'mcp', 'list'], 2],
    ['npx', ['-p', '@anthropic-ai/claude-code', 'claude'], 3],
    ['npx', ['@anthropic-ai/claude-code-sdk'], undefined],
    ['npx', ['cowsay', 'claude'], undefined],
    ['codex', ['exec'], undefined],
    ['claudette', [], undefined],
  ] as const)('%s %j → %s', (command, args, expected) => {
    expect(claudeArgsStart(command, args)).toBe(expected)
  })
})

describe("Claude Code's flag settings", () => {
  it("name the proxy, the key and the models, and turn off what would go around them: a key or helper of the user's own, another provider", () => {
    const settings = claudeSettings({ apiKey: 'k', baseUrl: 'http://127.0.0.1:4321/v1', model: 'coder-model', anthropicBaseUrl: 'http://127.0.0.1:4321' })
    expect(settings).toEqual({
      apiKeyHelper: '',
      env: {
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:4321',
        ANTHROPIC_AUTH_TOKEN: 'k',
        ANTHROPIC_MODEL: 'coder-model',
        ANTHROPIC_DEFAULT_OPUS_MODEL: 'coder-model',
        ANTHROPIC_DEFAULT_SONNET_MODEL: 'coder-model',
        ANTHROPIC_API_KEY: '',
        CLAUDE_CODE_USE_BEDROCK: '',
        CLAUDE_CODE_USE_VERTEX: '',
        CLAUDE_CODE_USE_FOUNDRY: '',
        CLAUDE_CODE_USE_ANTHROPIC_AWS: '',
        CLAUDE_CODE_USE_ANTHROPIC_GOOGLE_CLOUD: '',
        CLAUDE_CODE_USE_MANTLE: '',
        CLAUDE_CODE_USE_GATEWAY: '',
      },
    })
  })
})
