import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's Chromium (CI installs it); Playwright's own browser downloads are not used. */
export const CHROMIUM = process.env.QWENAUTH_CHROMIUM ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)
if (!hasChromium && process.env.QWENAUTH_REQUIRE_BROWSER) {
  throw new Error(`${CHROMIUM} is not installed, and QWENAUTH_REQUIRE_BROWSER says the browser tests must run`)
}

/**
 * Headless Chromium with nothing of its own on the network (no component updates, sync or
 * background requests), so every request it makes is the page's. Playwright gives it a fresh
 * profile directory and removes it on close; Chromium's own temporary files (it leaves an empty
 * `.org.chromium.Chromium.*` behind) go to a directory of its own, removed once it is gone.
 */
export async function launchChromium(): Promise<Browser> {
  const temp = mkdtempSync(join(tmpdir(), 'qwenauth-chromium-'))
  const removeTemp = () => rmSync(temp, { recursive: true, force: true })
  const browser = await chromium
    .launch({
      executablePath: CHROMIUM,
      env: { ...process.env, TMPDIR: temp },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    })
    .catch((error: unknown) => {
      removeTemp()
      throw error
    })
  browser.on('disconnected', removeTemp)
  return browser
}

/** What a page did: console errors, page errors, and every URL it requested. */
export interface PageWatch {
  errors: string[]
  requests: string[]
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { errors: [], requests: [] }
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') watch.errors.push(`${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => watch.errors.push(`pageerror: ${error.message}`))
  page.on('request', (request) => watch.requests.push(request.url()))
  return watch
}
