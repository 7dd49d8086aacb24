import { describe, expect, it } from 'vitest'
import { requireAccount, type Account, type AccountsDoc } from '../src/store/account-model.ts'

function account(id: string, label: string): Account {
  return { id, label, kind: 'api-key', provider: 'custom', baseUrl: 'https://x/v1', apiKey: `k-${id}`, status: 'ok', createdAt: 0, updatedAt: 0 }
}

const doc: AccountsDoc = {
  version: 1,
  accounts: [
    account('qwen-3955b0b6', 'Ada@Example.com'),
    account('qwen-39aa0000', 'bob@example.com'),
    account('openrouter-9f3e', 'openrouter'),
    account('openrouter-1a2b', 'openrouter'),
    account('custom-77ab', 'qwen-3'),
  ],
}

describe('accounts are named by id, unique id prefix, or label regardless of case', () => {
  it.each([
    ['qwen-3955b0b6', 'qwen-3955b0b6'],
    ['qwen-395', 'qwen-3955b0b6'],
    ['QWEN-39A', 'qwen-39aa0000'],
    ['ada@example.com', 'qwen-3955b0b6'],
    ['BOB@EXAMPLE.COM', 'qwen-39aa0000'],
    ['openrouter-9', 'openrouter-9f3e'],
    // A label wins over an id prefix that it also is.
    ['qwen-3', 'custom-77ab'],
  ])('%s is %s', (name, id) => {
    expect(requireAccount(doc, name).id).toBe(id)
  })

  it.each([
    ['qwen-39', /"qwen-39" names more than one account: qwen-3955b0b6 \(Ada@Example\.com\), qwen-39aa0000 \(bob@example\.com\); give more of the id/],
    ['openrouter', /"openrouter" names more than one account: openrouter-9f3e \(openrouter\), openrouter-1a2b \(openrouter\)/],
  ])('an ambiguous %s is a usage error listing the matches', (name, message) => {
    expect(() => requireAccount(doc, name)).toThrow(message)
    try {
      requireAccount(doc, name)
    } catch (error) {
      expect((error as { exitCode: number }).exitCode).toBe(2)
    }
  })

  it('a name nothing matches still lists the ids', () => {
    expect(() => requireAccount(doc, 'zzz')).toThrow(/no account "zzz" \(accounts: qwen-3955b0b6, qwen-39aa0000, openrouter-9f3e/)
  })
})
