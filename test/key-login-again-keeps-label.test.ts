import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { saveOAuthLogin } from '../src/auth/oauth/save-login.ts'
import { createContext } from '../src/context.ts'
import { accountsPath, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'

/**
 * README: "adding the same key again updates its account", and save-key-account.ts keeps the
 * label the account has when none is given (`input.label ?? existing?.label`). But the login
 * always hands it one (the provider's name by default), so logging in again with the same key
 * (after a `needs-login`, to re-check it) silently renames an account its owner named with
 * `--label` or `qwenauth edit --label`: `qwenauth use work` stops working.
 */
let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

const run = (argv: string[], input?: string) => runInProcess(argv, { home, ...(input !== undefined ? { input } : {}) })

describe('login --provider with a key that is already stored', () => {
  it('keeps the label its owner gave the account when no --label is given', async () => {
    const key = 'sk-or-v1-same-key-twice-0123456789'
    const first = await run(['login', '--provider', 'openrouter', '--no-verify', '--json'], key)
    expect(first.code, first.stderr).toBe(0)
    const { id } = JSON.parse(first.stdout) as { id: string }
    const renamed = await run(['edit', id, '--label', 'work'])
    expect(renamed.code, renamed.stderr).toBe(0)

    const again = await run(['login', '--provider', 'openrouter', '--no-verify', '--json'], key)
    expect(again.code, again.stderr).toBe(0)
    const accounts = readJsonFile(accountsPath(home)).accounts as Array<{ id: string; label: string }>
    expect(accounts).toHaveLength(1)
    expect(accounts[0]).toMatchObject({ id, label: 'work' })
  })
})

describe('a Qwen OAuth login of the same user again', () => {
  const jwt = (claims: Record<string, unknown>) =>
    ['{"alg":"none"}', JSON.stringify({ exp: 4102444800, ...claims })].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.sig'
  const tokens = (claims: Record<string, unknown>) => ({ accessToken: jwt(claims), refreshToken: `rt-${Math.random()}`, tokenType: 'Bearer', expiresAt: Date.now() + 3600_000 })
  const labels = () => (readJsonFile(accountsPath(home)).accounts as Array<{ id: string; label: string }>).map((a) => a.label)

  it('keeps a label its owner edited; an unedited one follows the token', async () => {
    const ctx = createContext({ QWEN_HOME: home })
    try {
      const { id } = await saveOAuthLogin(ctx, tokens({ sub: 'u-1', email: 'ada@example.com' }))
      await saveOAuthLogin(ctx, tokens({ sub: 'u-1', email: 'ada@new.example.com' }))
      expect(labels()).toEqual(['ada@new.example.com'])

      const renamed = await run(['edit', id, '--label', 'work'])
      expect(renamed.code, renamed.stderr).toBe(0)
      await saveOAuthLogin(ctx, tokens({ sub: 'u-1', email: 'ada@new.example.com' }))
      expect(labels()).toEqual(['work'])
    } finally {
      await ctx.close()
    }
  })
})
