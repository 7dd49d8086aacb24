/**
 * Review finding: Claude Code applies the `env` block of its settings.json (`~/.claude/settings.json`,
 * or CLAUDE_CONFIG_DIR's) over the environment it was started with. Alibaba's Coding Plan guide
 * has users put ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN there, so for such a user
 * `qwenauth exec -- claude` bypasses the private proxy: Claude Code talks to the settings' URL
 * with the settings' key (no failover, no refresh, no limits), or fails there. Without the
 * settings file this same test passes. Issue 11: exec -- claude works "with no
 * edit of Claude Code's settings"; the official qwen CLI got a settings layer for the same reason.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { claudeEnv, claudeResult, claudeSandbox, CLAUDE_BIN } from './helpers/claude-code.ts'
import { runCli } from './helpers/cli.ts'
import { execFixture } from './helpers/exec-fixtures.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
let sandbox: ReturnType<typeof claudeSandbox>
beforeEach(async () => {
  fx = await proxyFixture()
  sandbox = claudeSandbox()
})
afterEach(async () => {
  await fx.cleanup()
  sandbox.cleanup()
})

it("exec -- claude reaches qwenauth's proxy even when the user's settings.json sets ANTHROPIC_BASE_URL", async () => {
  await loginAs(fx, 'cc@example.com')
  fx.emu.queueReplies({ text: 'Hi through qwenauth.' })
  mkdirSync(sandbox.config, { recursive: true })
  // What the provider's guide has the user write; port 9 (discard) on loopback takes no connection.
  writeFileSync(join(sandbox.config, 'settings.json'), JSON.stringify({ env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', ANTHROPIC_AUTH_TOKEN: 'sk-users-own-key-0000' } }))
  const env = { ...claudeEnv(sandbox), QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url, HOME: sandbox.home }
  const run = await runCli(['exec', '--', CLAUDE_BIN, '-p', 'say hi', '--output-format', 'json'], {
    home: fx.home,
    env: { ...env, ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: undefined, HTTPS_PROXY: undefined, HTTP_PROXY: undefined },
    timeoutMs: 60_000,
  })
  expect(claudeResult(run)).toMatchObject({ is_error: false, result: 'Hi through qwenauth.' })
  expect(fx.emu.requests.some((r) => r.path === '/v1/chat/completions')).toBe(true)
})

it("a user's apiKeyHelper is not run, so its key goes neither to the proxy nor anywhere else", async () => {
  await loginAs(fx, 'cc@example.com')
  fx.emu.queueReplies({ text: 'Hi through qwenauth.' })
  mkdirSync(sandbox.config, { recursive: true })
  const marker = join(sandbox.home, 'helper-ran')
  writeFileSync(join(sandbox.config, 'settings.json'), JSON.stringify({ apiKeyHelper: `touch '${marker}'; echo sk-helper-key-0000`, env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' } }))
  const env = { ...claudeEnv(sandbox), QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url, HOME: sandbox.home }
  const run = await runCli(['exec', '--', CLAUDE_BIN, '-p', 'say hi', '--output-format', 'json'], {
    home: fx.home,
    env: { ...env, ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: undefined, HTTPS_PROXY: undefined, HTTP_PROXY: undefined },
    timeoutMs: 60_000,
  })
  expect(claudeResult(run)).toMatchObject({ is_error: false, result: 'Hi through qwenauth.' })
  expect(existsSync(marker)).toBe(false)
})

it('the settings that hold the one-time key go to Claude Code as a private file, not on its command line, and are removed when it exits', async () => {
  await loginAs(fx, 'cc@example.com')
  // A stand-in named claude that reports its arguments and the settings file it was given.
  const bin = join(sandbox.home, 'bin')
  const tmp = join(sandbox.home, 'tmp')
  mkdirSync(bin)
  mkdirSync(tmp)
  const report = join(sandbox.home, 'report.mjs')
  writeFileSync(report, [
    "import { readFileSync, statSync } from 'node:fs'",
    "import { dirname } from 'node:path'",
    'const args = process.argv.slice(2)',
    "const file = args[args.indexOf('--settings') + 1]",
    'const mode = (path) => (statSync(path).mode & 0o777).toString(8)',
    "console.log(JSON.stringify({ args, file, fileMode: mode(file), dirMode: mode(dirname(file)), settings: JSON.parse(readFileSync(file, 'utf8')), key: process.env.ANTHROPIC_AUTH_TOKEN }))",
  ].join('\n'))
  writeFileSync(join(bin, 'claude'), `#!/bin/sh\nexec '${process.execPath}' '${report}' "$@"\n`)
  chmodSync(join(bin, 'claude'), 0o755)
  const run = await runCli(['exec', '--', join(bin, 'claude'), '-p', 'say hi'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, TMPDIR: tmp }, timeoutMs: 30_000 })
  expect(run.code).toBe(0)
  const seen = JSON.parse(run.stdout)
  expect(seen.args).toEqual(['--settings', seen.file, '-p', 'say hi'])
  expect(seen.file.startsWith(tmp)).toBe(true)
  expect(seen.key).toMatch(/^qwenauth-exec-/)
  expect(seen.args.join(' ')).not.toContain(seen.key)
  expect({ fileMode: seen.fileMode, dirMode: seen.dirMode }).toEqual({ fileMode: '600', dirMode: '700' })
  expect(seen.settings).toMatchObject({ apiKeyHelper: '', env: { ANTHROPIC_AUTH_TOKEN: seen.key, ANTHROPIC_API_KEY: '', ANTHROPIC_MODEL: 'coder-model', CLAUDE_CODE_USE_BEDROCK: '' } })
  expect(seen.settings.env.ANTHROPIC_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  expect(readdirSync(tmp)).toEqual([])
})

it('--direct leaves Claude Code\'s command line as it was given', async () => {
  await loginAs(fx, 'cc@example.com')
  const bin = join(sandbox.home, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'claude'), `#!/bin/sh\nexec '${process.execPath}' '${execFixture('print-argv.mjs')}' "$@"\n`)
  chmodSync(join(bin, 'claude'), 0o755)
  const run = await runCli(['exec', '--direct', '--', join(bin, 'claude'), '-p', 'say hi'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url }, timeoutMs: 30_000 })
  expect(run.code).toBe(0)
  expect(JSON.parse(run.stdout)).toEqual(['-p', 'say hi'])
})
