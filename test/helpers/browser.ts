import { existsSync } from 'node:fs'
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
 * profile directory and removes it on close.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
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
