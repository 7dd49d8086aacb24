/**
 * The one-time key exec hands Claude Code must never be on a command line, where any local
 * user's `ps` shows it. When the settings file cannot go in TMPDIR (set to a missing or
 * read-only directory: sandboxes, CI runners, a full /tmp), exec today passes the settings JSON,
 * key included, as the --settings argument instead; it has a private directory of its own
 * (QWEN_HOME, 0700) it could use.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { runCli } from './helpers/cli.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture | undefined
let root: string | undefined
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
  if (root) rmSync(root, { recursive: true, force: true })
  root = undefined
})

it('exec -- claude: the one-time key is not on the command line even when TMPDIR cannot be written', async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'argv@example.com')
  root = mkdtempSync(join(tmpdir(), 'qwenauth-argv-'))
  const bin = join(root, 'bin')
  mkdirSync(bin)
  const report = join(root, 'report.mjs')
  writeFileSync(report, "console.log(JSON.stringify({ args: process.argv.slice(2), key: process.env.ANTHROPIC_AUTH_TOKEN }))\n")
  writeFileSync(join(bin, 'claude'), `#!/bin/sh\nexec '${process.execPath}' '${report}' "$@"\n`)
  chmodSync(join(bin, 'claude'), 0o755)
  const run = await runCli(['exec', '--', join(bin, 'claude'), '-p', 'hi'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, TMPDIR: join(root, 'missing') }, timeoutMs: 30_000 })
  expect(run.code).toBe(0)
  const seen = JSON.parse(run.stdout) as { args: string[]; key: string }
  expect(seen.key).toMatch(/^qwenauth-exec-/)
  expect(seen.args.join(' ')).not.toContain(seen.key)
}, 40_000)
