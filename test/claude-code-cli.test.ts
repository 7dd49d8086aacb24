import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startProxyServer, type ProxyServer } from '../src/proxy/server.ts'
import { addNativeAccount } from './helpers/anthropic-fixtures.ts'
import { claudeEnv, claudeResult, claudeSandbox, CLAUDE_BIN, runClaude } from './helpers/claude-code.ts'
import { runCli } from './helpers/cli.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

// The real Claude Code CLI (print mode, no network) through serve and through exec, against
// the emulator: on a translated account (Qwen OAuth) and on a native one.

const KEY = 'sk-serve-claude-0123456789'
let fx: ProxyFixture
let server: ProxyServer | undefined
let sandbox: ReturnType<typeof claudeSandbox>

beforeEach(async () => {
  fx = await proxyFixture()
  sandbox = claudeSandbox()
})
afterEach(async () => {
  await server?.close()
  server = undefined
  await fx.cleanup()
  sandbox.cleanup()
})

async function serve(): Promise<string> {
  server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [KEY], log: () => {}, poolRefreshMs: 50 })
  return server.url
}

const chats = () => fx.emu.requests.filter((r) => r.path === '/v1/chat/completions')

describe('Claude Code through serve', () => {
  it('answers a prompt on a translated account', async () => {
    await loginAs(fx, 'cc@example.com')
    const url = await serve()
    fx.emu.queueReplies({ text: 'Hi from Qwen, through qwenauth.' })
    const run = await runClaude('say hi', [], claudeEnv(sandbox, { ANTHROPIC_BASE_URL: url, ANTHROPIC_AUTH_TOKEN: KEY }), sandbox.work)
    expect(claudeResult(run)).toMatchObject({ is_error: false, result: 'Hi from Qwen, through qwenauth.' })
    expect(run.code).toBe(0)
    // One streamed request: Claude Code took the translated stream (a stream it rejects is retried without streaming).
    expect(chats()).toHaveLength(1)
    const [sent] = chats()
    expect((sent?.body as any).stream).toBe(true)
    expect((sent?.body as any).model).toBe('coder-model')
    expect((sent?.body as any).tools.length).toBeGreaterThan(3)
  })

  it('makes a Bash tool round trip on a translated account', async () => {
    await loginAs(fx, 'cc@example.com')
    const url = await serve()
    fx.emu.queueReplies(
      { text: 'Running it.', toolCalls: [{ name: 'Bash', arguments: { command: 'echo hello-from-bash', description: 'Print a greeting' }, id: 'call_bash_1' }] },
      { text: 'The command printed hello-from-bash.' },
    )
    const run = await runClaude('run echo', ['--allowedTools', 'Bash'], claudeEnv(sandbox, { ANTHROPIC_BASE_URL: url, ANTHROPIC_AUTH_TOKEN: KEY }), sandbox.work)
    expect(claudeResult(run)).toMatchObject({ is_error: false, result: 'The command printed hello-from-bash.', num_turns: 2 })
    expect(chats()).toHaveLength(2)
    const second = chats()[1]?.body as any
    const toolMessage = second.messages.find((m: any) => m.role === 'tool')
    expect(toolMessage).toMatchObject({ tool_call_id: 'call_bash_1' })
    expect(toolMessage.content).toContain('hello-from-bash')
  })

  it("answers a prompt on a native account, whose upstream refuses the system turn (Claude Code recovers from the upstream's words)", async () => {
    await addNativeAccount(fx, 'sk-native-claude')
    const url = await serve()
    fx.emu.queueReplies({ text: 'Native hello.' })
    const run = await runClaude('say hi', [], claudeEnv(sandbox, { ANTHROPIC_BASE_URL: url, ANTHROPIC_AUTH_TOKEN: KEY }), sandbox.work)
    expect(claudeResult(run)).toMatchObject({ is_error: false, result: 'Native hello.' })
    const sent = fx.emu.requests.filter((r) => r.path === '/apps/anthropic/v1/messages')
    expect(sent.map((r) => r.status)).toEqual([400, 200])
    expect((sent[1]?.body as any).max_tokens).toBe(65_536)
    expect(sent[1]?.headers['x-api-key']).toBe('sk-native-claude')
  })
})

describe('qwenauth exec -- claude', () => {
  it('runs Claude Code with no settings of its own, a Read tool round trip included', async () => {
    await loginAs(fx, 'cc@example.com')
    fx.emu.queueReplies(
      { toolCalls: [{ name: 'Read', arguments: { file_path: `${sandbox.work}/notes.txt` }, id: 'call_read_1' }] },
      { text: 'The file says: remember the milk.' },
    )
    const { writeFileSync } = await import('node:fs')
    writeFileSync(`${sandbox.work}/notes.txt`, 'remember the milk\n')
    const env = { ...claudeEnv(sandbox), QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url, HOME: sandbox.home }
    const run = await runCli(['exec', '--', CLAUDE_BIN, '-p', 'what do my notes say?', '--output-format', 'json', '--allowedTools', 'Read', '--add-dir', sandbox.work], {
      home: fx.home,
      env: { ...env, ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: undefined, HTTPS_PROXY: undefined, HTTP_PROXY: undefined },
      timeoutMs: 60_000,
    })
    expect(claudeResult(run)).toMatchObject({ is_error: false, result: 'The file says: remember the milk.', num_turns: 2 })
    expect(run.code).toBe(0)
    const second = chats()[1]?.body as any
    expect(second.model).toBe('coder-model')
    expect(second.messages.find((m: any) => m.role === 'tool').content).toContain('remember the milk')
  })
})
