import { existsSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { saveOAuthLogin } from '../src/auth/oauth/save-login.ts'
import { createContext } from '../src/context.ts'
import { accountsPath, readJsonFile } from './helpers/accounts.ts'
import { tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'
import { proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

/**
 * A label is shown in `status`, the log and the status page, matched when an account is named and
 * offered by the shell completions, and it may come from a client of the status page or a token's
 * claims: it is one line of printable characters, at most 64 of them. What a person gives
 * otherwise is refused (exit 2, one line); what a token's claims say is made to fit instead.
 */
let home: string
let cleanup: () => void
let fx: ProxyFixture | undefined
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
  cleanup()
})

const KEY = 'sk-or-v1-label-checks-0123456789'
const run = (argv: string[], input?: string) => runInProcess(argv, { home, ...(input !== undefined ? { input } : {}) })
const labels = () => (readJsonFile(accountsPath(home)).accounts as Array<{ label: string }>).map((a) => a.label)
const refused = (result: { code: number; error: unknown }) => {
  expect(result.code).toBe(2)
  const message = (result.error as Error).message
  expect(message).not.toMatch(/[\x00-\x1f\x7f-\x9f]/)
  return message
}

const BAD: Array<[string, string, RegExp]> = [
  ['a line break', 'work\nforged', /--label must be one line of printable characters/],
  ['a tab', 'work\tmore', /--label must be one line of printable characters/],
  ['an escape sequence', 'work\x1b]0;title\x07', /--label must be one line of printable characters/],
  ['a C1 control', 'work\x9b31m', /--label must be one line of printable characters/],
  ['65 characters', 'w'.repeat(65), /--label is 65 characters long: give a name of at most 64/],
  ['nothing', '', /--label is empty/],
  ['only spaces', '   ', /--label is empty/],
]

describe('labels given with login --provider --label and edit --label', () => {
  for (const [what, label, message] of BAD) {
    it(`login refuses ${what} before it reads the key, and saves nothing`, async () => {
      // No key on stdin: had it been read first, that would be the error.
      const result = await run(['login', '--provider', 'openrouter', '--no-verify', '--label', label])
      expect(refused(result)).toMatch(message)
      expect(existsSync(accountsPath(home))).toBe(false)
    })
  }

  it('edit refuses the same, and leaves the label as it was', async () => {
    expect((await run(['login', '--provider', 'openrouter', '--no-verify', '--label', 'work'], KEY)).code).toBe(0)
    for (const [, label, message] of BAD) expect(refused(await run(['edit', 'work', '--label', label]))).toMatch(message)
    expect(labels()).toEqual(['work'])
  })

  it('takes what labels are today: emails, names with spaces, hyphens, other scripts, 64 characters', async () => {
    expect((await run(['login', '--provider', 'openrouter', '--no-verify', '--label', 'ada@example.com'], KEY)).code).toBe(0)
    for (const label of ['Ada Lovelace (work)', 'team-b_2', 'Ünïcødé 名前 ✓', 'w'.repeat(64), '$(not code)']) {
      const result = await run(['edit', 'openrouter-', '--label', label])
      expect(result.code, result.stderr).toBe(0)
      expect(labels()).toEqual([label])
    }
  })
})

describe("the status page's add-key action", () => {
  const CLIENT_KEY = 'sk-client-key-labels-4242'
  const addKey = (label: string) =>
    proxyApp(fx!, { apiKeys: [CLIENT_KEY], statusPage: true }).fetch(
      new Request('http://127.0.0.1:8787/ui/add-key', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
        body: JSON.stringify({ provider: `${fx!.emu.url}/v1`, apiKey: 'sk-added-through-the-page-7777', label }),
      }),
    )

  it('refuses a label of several lines, with control characters or too long (400), and adds nothing', async () => {
    fx = await proxyFixture()
    fx.emu.addApiKey('sk-added-through-the-page-7777')
    for (const label of ['work\n2026-01-01T00:00:00.000Z [info] forged', 'work\x1b[2J', 'w'.repeat(65)]) {
      const answer = await addKey(label)
      expect(answer.status).toBe(400)
      expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(/^"label" (must be one line|is 65 characters)/)
    }
    expect((await fx.ctx.accounts.read()).accounts).toEqual([])
    expect((await addKey('  team key  ')).status).toBe(200)
    expect((await fx.ctx.accounts.read()).accounts.map((a) => a.label)).toEqual(['team key'])
  })
})

describe("a Qwen OAuth login's label from its token", () => {
  const jwt = (claims: Record<string, unknown>) =>
    ['{"alg":"none"}', JSON.stringify({ exp: 4102444800, ...claims })].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.sig'

  it('is made one printable line of at most 64 characters, and the login is kept', async () => {
    const ctx = createContext({ QWEN_HOME: home })
    try {
      const tokens = (claims: Record<string, unknown>) => ({ accessToken: jwt(claims), refreshToken: 'rt-1', tokenType: 'Bearer', expiresAt: Date.now() + 3600_000 })
      await saveOAuthLogin(ctx, tokens({ sub: 'u-1', email: 'ada\n2026-01-01T00:00:00.000Z [info] x\x1b]52;c;eA==\x07@example.com' }))
      await saveOAuthLogin(ctx, tokens({ sub: 'u-2', name: `${'n'.repeat(70)}` }))
      await saveOAuthLogin(ctx, tokens({ sub: 'u-3', email: '\x1b\x07\n' }))
      const stored = labels()
      expect(stored).toHaveLength(3)
      for (const label of stored) {
        expect(label).not.toMatch(/[\x00-\x1f\x7f-\x9f]/)
        expect([...label].length).toBeLessThanOrEqual(64)
      }
      expect(stored).toContain('ada 2026-01-01T00:00:00.000Z [info] x ]52;c;eA== @example.com')
      expect(stored).toContain('n'.repeat(64))
      // Nothing left of the claim: the id, as for a token without one.
      expect(stored.some((label) => label.startsWith('qwen-'))).toBe(true)
    } finally {
      await ctx.close()
    }
  })
})
