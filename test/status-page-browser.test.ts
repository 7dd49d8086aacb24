import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startProxyServer, type ProxyServer, type ProxyServerOptions } from '../src/proxy/server.ts'
import type { Account } from '../src/store/account-model.ts'
import { hasChromium, launchChromium, watchPage, type PageWatch } from './helpers/browser.ts'
import { addKeyAccount, chatRequest, loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const KEY = 'sk-client-key-page-4242'
/** The page asks once a second: what it shows may take a poll or two to change. */
const LIVE = { timeout: 5000 }
const UPSTREAM_KEY = 'sk-upstream-key-page-7777'
/**
 * Console lines other than the browser's note on a refusal the test provoked (the 401 before a
 * key is entered, a refused key's 400): a page working as it should logs nothing.
 */
function unexpected(watch: PageWatch, ...statuses: number[]): string[] {
  return watch.errors.filter((e) => !statuses.some((s) => e.includes(`Failed to load resource: the server responded with a status of ${s}`)))
}

let browser: Browser
let fx: ProxyFixture
let server: ProxyServer | undefined
let context: BrowserContext | undefined

beforeAll(async () => {
  if (hasChromium) browser = await launchChromium()
})
afterAll(async () => {
  await browser?.close()
})
afterEach(async () => {
  await context?.close()
  context = undefined
  await server?.close()
  server = undefined
  await fx?.cleanup()
})

async function serve(options: Partial<ProxyServerOptions> = {}): Promise<ProxyServer> {
  server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [KEY], statusPage: true, poolRefreshMs: 50, log: () => {}, ...options })
  return server
}

/** A fresh browser context (no storage shared with other tests) on the status page; every /ui/state answer is kept. */
async function open(url: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; watch: PageWatch; answers: string[] }> {
  context = await browser.newContext({ viewport })
  const page = await context.newPage()
  const watch = watchPage(page)
  const answers: string[] = []
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/ui/')) void response.text().then((t) => answers.push(t), () => {})
  })
  await page.goto(`${url}/`)
  return { page, watch, answers }
}

async function enterKey(page: Page, key = KEY): Promise<void> {
  await page.locator('#key-input').fill(key)
  await page.locator('#key-form button[type=submit]').click()
}

function cardLabels(page: Page): Promise<string[]> {
  return page.locator('#accounts .card .label').allTextContents()
}

function card(page: Page, id: string) {
  return page.locator(`#accounts .card[data-account="${id}"]`)
}

async function chat(url: string, key = KEY): Promise<number> {
  const request = chatRequest({}, { key })
  const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: request.headers, body: await request.text() })
  await response.arrayBuffer()
  return response.status
}

/** Everything the page was sent and shows: no token or key may be in any of it. */
async function expectNoSecrets(page: Page, answers: string[], secrets: Array<string | undefined>): Promise<void> {
  const seen = [await page.content(), ...answers].join('\n')
  for (const secret of secrets) if (secret) expect(seen).not.toContain(secret)
}

function expectOnlyOwnRequests(watch: PageWatch, url: string): void {
  expect(watch.requests.length).toBeGreaterThan(0)
  for (const requested of watch.requests) expect(requested.startsWith(`${url}/`) || requested.startsWith('data:')).toBe(true)
}

describe.skipIf(!hasChromium)('the status page in Chromium', () => {
  it('asks for the key, then shows the accounts in pool order and the last requests live; no console errors, nothing from outside', async () => {
    fx = await proxyFixture()
    const keyAccount = await addKeyAccount(fx, UPSTREAM_KEY)
    const oauth = await loginAs(fx, 'dev@example.com')
    const { url } = await serve()
    const { page, watch, answers } = await open(url)

    await page.locator('#key-form').waitFor({ state: 'visible' })
    expect(await page.locator('#key-why').textContent()).toMatch(/needs a client key/)
    const polls: number[] = []
    page.on('request', (r) => void (r.url().endsWith('/ui/state') && polls.push(Date.now())))
    await enterKey(page)
    await page.locator('#accounts .card').nth(1).waitFor()
    expect(await cardLabels(page)).toEqual(['dev@example.com', keyAccount.label])
    expect(await card(page, oauth.id).locator('.status').textContent()).toBe('ok')
    expect(await card(page, oauth.id).locator('.kind').textContent()).toBe('Qwen OAuth')
    expect(await card(page, keyAccount.id).locator('.cred').textContent()).toBe(`key …${UPSTREAM_KEY.slice(-4)}`)
    expect(await page.locator('#strategy').textContent()).toBe('fill-first')
    // The inline style ran under the CSP (its hash matched): the cards are laid out as cards.
    expect(await page.locator('#accounts').evaluate((e) => getComputedStyle(e).display)).toBe('grid')

    // Live: requests made elsewhere show up without a reload.
    expect(await chat(url)).toBe(200)
    expect(await chat(url)).toBe(200)
    await page.locator('#recent tbody tr').nth(1).waitFor()
    const row = await page.locator('#recent tbody tr').first().locator('td').allTextContents()
    expect(row.slice(1, 5)).toEqual(['POST /v1/chat/completions', 'openai', 'dev@example.com', '200'])
    expect(row[6]).toMatch(/^\d+ \/ \d+$/)
    await expect.poll(() => card(page, oauth.id).locator('.requests').textContent(), LIVE).toBe('2')
    expect(Number(await page.locator('#rpm').textContent())).toBeGreaterThanOrEqual(2)
    // At most one poll a second: each starts a second after the answer to the one before.
    await expect.poll(() => polls.length, LIVE).toBeGreaterThanOrEqual(4)
    for (let i = 2; i < polls.length; i++) expect(polls[i]! - polls[i - 1]!).toBeGreaterThanOrEqual(990)

    expect(unexpected(watch, 401)).toEqual([])
    expectOnlyOwnRequests(watch, url)
    await expectNoSecrets(page, answers, [oauth.accessToken, oauth.refreshToken, UPSTREAM_KEY, KEY])
  })

  it('counts a cooldown down every second on its own', async () => {
    fx = await proxyFixture()
    const oauth = await loginAs(fx, 'tired@example.com')
    await addKeyAccount(fx, UPSTREAM_KEY)
    const { url } = await serve({ quotaCooldownMs: 120_000 })
    fx.emu.setUserState('tired@example.com', 'quota')
    expect(await chat(url)).toBe(200)
    const { page } = await open(url)
    await enterKey(page)
    const countdown = card(page, oauth.id).locator('.cooldown')
    await countdown.waitFor()
    expect(await card(page, oauth.id).locator('.status').textContent()).toBe('cooling down')
    const seconds = async () => {
      const [m, s] = ((await countdown.textContent()) ?? '').split(':').map(Number)
      return (m ?? 0) * 60 + (s ?? 0)
    }
    const first = await seconds()
    expect(first).toBeGreaterThan(100)
    expect(first).toBeLessThanOrEqual(120)
    await expect.poll(seconds, LIVE).toBeLessThan(first)
    expect(await card(page, oauth.id).locator('.error').textContent()).toMatch(/quota exhausted/)
  })

  it('performs each action with the key: make active, clear a cooldown, remove, add a checked key (never shown again)', async () => {
    fx = await proxyFixture()
    const keyAccount = await addKeyAccount(fx, UPSTREAM_KEY)
    const oauth = await loginAs(fx, 'act@example.com')
    const { url } = await serve()
    fx.emu.setUserState('act@example.com', 'quota')
    expect(await chat(url)).toBe(200)
    fx.emu.setUserState('act@example.com', 'ok')
    const { page, watch, answers } = await open(url)
    await enterKey(page)
    await card(page, oauth.id).waitFor()
    const notice = page.locator('#notice')

    await card(page, keyAccount.id).locator('[data-action=activate]').click()
    await expect.poll(() => notice.textContent(), LIVE).toMatch(/is now the active account/)
    await expect.poll(() => cardLabels(page), LIVE).toEqual([keyAccount.label, 'act@example.com'])
    expect((await fx.ctx.accounts.read()).accounts.map((a) => a.id)).toEqual([keyAccount.id, oauth.id])

    expect(await card(page, oauth.id).locator('.status').textContent()).toBe('cooling down')
    await card(page, oauth.id).locator('[data-action=reset]').click()
    await expect.poll(() => card(page, oauth.id).locator('.status').textContent(), LIVE).toBe('ok')
    expect((await fx.ctx.accounts.read()).accounts.find((a) => a.id === oauth.id)?.status).toBe('ok')

    const added = 'sk-added-by-the-page-31337'
    fx.emu.addApiKey(added)
    await page.locator('#add-provider').selectOption('')
    await page.locator('#add-url').fill(`${fx.emu.url}/v1`)
    await page.locator('#add-key').fill(added)
    await page.locator('#add-label').fill('added on the page')
    await page.locator('#add-submit').click()
    await expect.poll(() => notice.textContent(), LIVE).toMatch(/^added added on the page \(custom-[0-9a-f]+, key …1337\) as #3/)
    await expect.poll(() => cardLabels(page), LIVE).toContain('added on the page')
    expect(await page.locator('#add-key').inputValue()).toBe('')
    expect(fx.emu.requests.some((r) => r.path === '/v1/models' && r.auth === added)).toBe(true)

    // A refused key is not saved, and the provider quoting it back does not put it on the page.
    fx.emu.setEchoCredential(true)
    const refused = 'sk-refused-by-provider-2718'
    await page.locator('#add-url').fill(`${fx.emu.url}/v1`)
    await page.locator('#add-key').fill(refused)
    await page.locator('#add-submit').click()
    await expect.poll(() => notice.textContent(), LIVE).toMatch(/the provider refused the key \(401\)/)
    expect((await fx.ctx.accounts.read()).accounts).toHaveLength(3)

    await card(page, oauth.id).locator('[data-action=remove]').click()
    expect(await card(page, oauth.id).locator('[data-action=remove]').textContent()).toBe('Press again to remove')
    expect((await fx.ctx.accounts.read()).accounts).toHaveLength(3)
    await card(page, oauth.id).locator('[data-action=remove]').click()
    await expect.poll(() => card(page, oauth.id).count(), LIVE).toBe(0)
    expect((await fx.ctx.accounts.read()).accounts.map((a) => a.label)).toEqual([keyAccount.label, 'added on the page'])

    expect(unexpected(watch, 401, 400)).toEqual([])
    expectOnlyOwnRequests(watch, url)
    await expectNoSecrets(page, answers, [oauth.accessToken, oauth.refreshToken, UPSTREAM_KEY, added, refused, KEY])
  })

  it('refuses the actions without the key, and shows a keyless serve read-only', async () => {
    fx = await proxyFixture()
    const keyAccount = await addKeyAccount(fx, UPSTREAM_KEY)
    await serve()
    const post = (page: Page, path: string, key?: string) =>
      page.evaluate(
        async ({ path, key }) => {
          const headers: Record<string, string> = { 'Content-Type': 'application/json' }
          if (key) headers.Authorization = `Bearer ${key}`
          return (await fetch(path, { method: 'POST', headers, body: JSON.stringify({ account: 'key-1' }) })).status
        },
        { path, key },
      )
    const { page } = await open(server!.url)
    await page.locator('#key-form').waitFor({ state: 'visible' })
    for (const action of ['/ui/activate', '/ui/reset', '/ui/remove']) {
      expect(await post(page, action)).toBe(401)
      expect(await post(page, action, 'sk-not-the-key-000000')).toBe(401)
    }
    await enterKey(page, 'sk-not-the-key-000000')
    await expect.poll(() => page.locator('#key-why').textContent(), LIVE).toMatch(/not one this serve accepts/)
    expect(await page.locator('#accounts .card').count()).toBe(0)
    expect((await fx.ctx.accounts.read()).accounts.map((a) => a.id)).toEqual([keyAccount.id])
    await context!.close()
    await server!.close()

    const { url } = await serve({ apiKeys: [] })
    const open2 = await open(url)
    await card(open2.page, keyAccount.id).waitFor()
    expect(await open2.page.locator('#read-only').textContent()).toMatch(/^read-only: this serve has no client key/)
    expect(await card(open2.page, keyAccount.id).locator('.actions').isHidden()).toBe(true)
    expect(await open2.page.locator('#add').isHidden()).toBe(true)
    expect(await post(open2.page, '/ui/remove')).toBe(403)
    expect((await fx.ctx.accounts.read()).accounts).toHaveLength(1)
    expect(unexpected(open2.watch, 403)).toEqual([])
  })

  it('shows usage against limits when the account view carries it, and nothing when it does not', async () => {
    fx = await proxyFixture()
    const keyAccount = await addKeyAccount(fx, UPSTREAM_KEY)
    const oauth = await loginAs(fx, 'plan@example.com')
    const { url } = await serve()
    context = await browser.newContext()
    const page = await context.newPage()
    // The quota work adds `usage` to the account view; until then, the page is given one here.
    const resetsAt = Date.now() + 2 * 3600_000
    await page.route('**/ui/state', async (route) => {
      const response = await route.fetch()
      if (response.status() !== 200) return route.fulfill({ response })
      const state = (await response.json()) as { accounts: Array<{ id: string; usage?: unknown }> }
      const view = state.accounts.find((a) => a.id === keyAccount.id)!
      view.usage = [
        { window: '5h', used: 1200, limit: 1500, resetsAt },
        { window: 'month', used: 20, limit: null, resetsAt: null },
      ]
      await route.fulfill({ response, json: state })
    })
    await page.goto(`${url}/`)
    await enterKey(page)
    const rows = card(page, keyAccount.id).locator('.usage-row')
    await rows.nth(1).waitFor()
    expect(await rows.nth(0).locator('.window').textContent()).toBe('5h')
    expect(await rows.nth(0).locator('.amount').textContent()).toBe('1,200 / 1,500')
    expect(await rows.nth(0).locator('meter').evaluate((m: HTMLMeterElement) => [m.value, m.max])).toEqual([1200, 1500])
    await expect.poll(() => rows.nth(0).locator('.reset').textContent(), LIVE).toMatch(/^resets in 1h59m$/)
    expect(await rows.nth(1).locator('.amount').textContent()).toBe('20 used')
    expect(await rows.nth(1).locator('meter').isHidden()).toBe(true)
    expect(await card(page, oauth.id).locator('.usage-row').count()).toBe(0)
    expect(await card(page, oauth.id).locator('.usage').isHidden()).toBe(true)
  })

  it('fits a phone screen, and shows demo accounts for the README screenshot', async () => {
    // The Coding Plan account sends its plan's model, which the emulator serves only when told to.
    fx = await proxyFixture({ extraModels: ['qwen3.5-plus'] })
    const demo = await demoAccounts(fx)
    const { url } = await serve({ apiKeys: [KEY], quotaCooldownMs: 25 * 60_000 })
    for (let i = 0; i < 3; i++) expect(await chat(url)).toBe(200)
    await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.arrayBuffer())
    await fetch(`${url}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } }).then((r) => r.arrayBuffer())

    const phone = await open(url, { width: 390, height: 844 })
    await enterKey(phone.page)
    await phone.page.locator('#accounts .card').nth(3).waitFor()
    await phone.page.locator('#recent tbody tr').nth(4).waitFor()
    // Nothing wider than the screen but the request table, which scrolls in its own box.
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    if (process.env.QWENAUTH_PHONE_SHOT) await phone.page.screenshot({ path: process.env.QWENAUTH_PHONE_SHOT, fullPage: true })
    await context!.close()

    const desktop = await open(url, { width: 1280, height: 900 })
    await enterKey(desktop.page)
    await desktop.page.locator('#accounts .card').nth(3).waitFor()
    await desktop.page.locator('#recent tbody tr').nth(4).waitFor()
    await card(desktop.page, 'openrouter-b71c').locator('.cooldown').waitFor()
    await expect.poll(() => card(desktop.page, 'coding-plan-3f9a').locator('.requests').textContent(), LIVE).toBe('4')
    const target = process.env.QWENAUTH_UPDATE_SCREENSHOT ? resolve(import.meta.dirname, '../docs/status-page.png') : undefined
    const dir = target ? undefined : mkdtempSync(join(tmpdir(), 'qwenauth-shot-'))
    try {
      const path = target ?? join(dir!, 'status-page.png')
      await desktop.page.screenshot({ path, fullPage: true })
      expect(readFileSync(path).subarray(1, 4).toString()).toBe('PNG')
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true })
    }
    await expectNoSecrets(desktop.page, desktop.answers, demo.secrets)
  })
})

/**
 * The README's demo pool, on the emulator: a Coding Plan key (active), an OpenRouter key resting
 * after its quota ran out, a DashScope key, and a Qwen OAuth login Qwen no longer serves.
 */
async function demoAccounts(fx: ProxyFixture): Promise<{ secrets: string[] }> {
  const oauth = await loginAs(fx, 'dev@example.com')
  const now = Date.now()
  const key = (id: string, provider: string, label: string, apiKey: string, extra: Partial<Account> = {}): Account => {
    fx.emu.addApiKey(apiKey)
    return { id, label, kind: 'api-key', provider, baseUrl: `${fx.emu.url}/v1`, apiKey, status: 'ok', createdAt: now, updatedAt: now, ...extra }
  }
  const keys = ['sk-demo-coding-plan-0001', 'sk-demo-openrouter-0002', 'sk-demo-dashscope-0003']
  const accounts = [
    key('coding-plan-3f9a', 'coding-plan', 'team coding plan', keys[0]!),
    key('openrouter-b71c', 'openrouter', 'openrouter', keys[1]!, {
      status: 'cooling-down',
      cooldownUntil: now + 25 * 60_000,
      lastError: { message: 'quota exhausted (Free allocated quota exceeded.)', at: now, code: 'insufficient_quota' },
    }),
    key('dashscope-intl-52e0', 'dashscope-intl', 'dashscope-intl', keys[2]!),
  ]
  await fx.ctx.accounts.update((doc) => {
    const login = doc.accounts.find((a) => a.id === oauth.id)!
    login.status = 'not-served'
    login.lastError = { message: 'not served: Qwen ended the free OAuth tier on 2026-04-15; add a served account', at: now }
    doc.accounts = [...accounts, login]
  })
  return { secrets: [...keys, oauth.accessToken!, oauth.refreshToken!, KEY] }
}
