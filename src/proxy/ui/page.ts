import { createHash } from 'node:crypto'
import css from './assets/page.css' with { type: 'text' }
import template from './assets/page.html' with { type: 'text' }
import script from './assets/page.js' with { type: 'text' }

/**
 * The status page: one HTML document with its style and script inline, imported as text so the
 * bundler puts it inside the npm bundle and the binary (nothing is read from disk or fetched).
 * The inline script and style are allowed by their hashes alone: no other script can run in the
 * page, not even one an account label or an upstream error smuggled into it (the script only
 * ever sets text, never markup).
 */
interface BuiltPage {
  html: string
  csp: string
}

let built: BuiltPage | undefined

function buildPage(): BuiltPage {
  if (script.includes('</script') || css.includes('</style')) throw new Error('the status page script or style closes its own element')
  const html = template.replace('<style></style>', () => `<style>${css}</style>`).replace('<script></script>', () => `<script>${script}</script>`)
  const csp = [
    "default-src 'none'",
    `script-src '${sha256(script)}'`,
    `style-src '${sha256(css)}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  return { html, csp }
}

function sha256(text: string): string {
  return `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`
}

/** Headers on everything the page and its data answer: no sniffing, no caching, no referrer. */
export const PAGE_DATA_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-resource-policy': 'same-origin',
}

export function pageResponse(): Response {
  built ??= buildPage()
  return new Response(built.html, {
    headers: {
      ...PAGE_DATA_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': built.csp,
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
    },
  })
}

/** A JSON answer of the page's data or actions. */
export function pageJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...PAGE_DATA_HEADERS, 'content-type': 'application/json; charset=utf-8' } })
}
