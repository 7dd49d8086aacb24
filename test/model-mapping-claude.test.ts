import { describe, expect, it } from 'vitest'
import { clientModel, mapped, parseAliasFlags, upstreamModel } from '../src/pool/model-map.ts'
import type { Account } from '../src/store/account-model.ts'

// Claude Code asks for claude-* names; each account maps them to a model it serves.

function account(id: string, extra: Partial<Account> = {}): Account {
  return { id, label: id, kind: 'api-key', provider: 'custom', baseUrl: 'https://x/v1', apiKey: 'k', status: 'ok', createdAt: 0, updatedAt: 0, ...extra }
}

const coding = account('c', { provider: 'coding-plan' })
const oauth = account('q', { kind: 'qwen-oauth', provider: 'qwen-oauth' })
const openrouter = account('o', { provider: 'openrouter' })
const haikuFast = account('h', { provider: 'coding-plan', aliases: { 'claude-*haiku*': 'qwen3-coder-flash' } })
const SERVER = { 'claude-*haiku*': 'coder-model', 'claude-opus-*': 'qwen3-max' }

describe('claude-* model names', () => {
  it.each<[string, Account, string, Record<string, string> | undefined, string]>([
    ['a claude name nothing maps: the account default', coding, 'claude-opus-5-5', undefined, 'qwen3.5-plus'],
    ['on Qwen OAuth', oauth, 'claude-sonnet-5-5', undefined, 'coder-model'],
    ['on OpenRouter', openrouter, 'claude-haiku-5-5', undefined, 'qwen/qwen3-coder'],
    ["the account's pattern wins", haikuFast, 'claude-haiku-5-5', SERVER, 'qwen3-coder-flash'],
    ["the account's pattern matches only what it names", haikuFast, 'claude-sonnet-5-5', undefined, 'qwen3.5-plus'],
    ['a server pattern to a neutral name, then the account alias', openrouter, 'claude-haiku-5-5', SERVER, 'qwen/qwen3-coder'],
    ['a server pattern to a name the account does not rename', coding, 'claude-opus-5-5', SERVER, 'qwen3-max'],
    ['a non-claude name passes through as before', coding, 'qwen3-max', SERVER, 'qwen3-max'],
    ['the neutral name still maps', coding, 'coder-model', SERVER, 'qwen3.5-plus'],
  ])('%s', (_name, target, requested, server, expected) => {
    expect(upstreamModel(target, requested, server)).toBe(expected)
  })

  it('patterns: * is any run, the whole name must match, exact entries first', () => {
    expect(mapped({ 'claude-*': 'a', 'claude-haiku-5-5': 'b' }, 'claude-haiku-5-5')).toBe('b')
    expect(mapped({ '*haiku*': 'a' }, 'claude-haiku-5-5')).toBe('a')
    expect(mapped({ 'claude-*': 'a' }, 'xclaude-1')).toBeUndefined()
    expect(mapped({ 'claude.*': 'a' }, 'claudeX5')).toBeUndefined()
  })

  it('a pattern alias is nobody\'s neutral name: the client is still told coder-model', () => {
    expect(clientModel(account('p', { provider: 'coding-plan', model: 'qwen3-coder-plus', aliases: { 'claude-*': 'qwen3-coder-plus' } }))).toBe('coder-model')
  })

  it('QWENAUTH_MODEL_MAP and --model-map entries are checked like --alias', () => {
    expect(parseAliasFlags(['claude-*haiku*=qwen3-coder-flash,claude-opus-*=qwen3-max'], '--model-map')).toEqual({ 'claude-*haiku*': 'qwen3-coder-flash', 'claude-opus-*': 'qwen3-max' })
    expect(() => parseAliasFlags(['claude-*haiku*'], '--model-map')).toThrow(/--model-map wants requested=upstream/)
  })
})
