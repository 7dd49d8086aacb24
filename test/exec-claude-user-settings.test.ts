/**
 * Review finding: Claude Code applies the `env` block of its settings.json (`~/.claude/settings.json`,
 * or CLAUDE_CONFIG_DIR's) over the environment it was started with. Alibaba's Coding Plan guide
 * has users put ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN there, so for such a user
 * `qwenauth exec -- claude` bypasses the private proxy: Claude Code talks to the settings' URL
 * with the settings' key (no failover, no refresh, no limits), or fails there. Without the
 * settings file this same test passes. Issue 11: exec -- claude works "with no
 * edit of Claude Code's settings"; the official qwen CLI got a settings layer for the same reason.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { claudeEnv, claudeResult, claudeSandbox, CLAUDE_BIN } from './helpers/claude-code.ts'
import { runCli } from './helpers/cli.ts'
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
