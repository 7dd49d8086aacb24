import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { runCli, type CliOptions } from './helpers/cli.ts'
import { loggedIn, type LoggedIn } from './helpers/exec-fixtures.ts'
import { runInProcess } from './helpers/in-process.ts'

// exec and env hand Claude Code the variables it reads: ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN
// and the model variables.

let fx: LoggedIn
beforeEach(async () => {
  fx = await loggedIn()
})
afterEach(async () => {
  await fx.cleanup()
})

const opts = (extra: Partial<CliOptions> = {}): CliOptions => ({ home: fx.home, ...extra, env: { ...fx.env, ...extra.env } })
/** `qwenauth <args>` in this process (a process of its own only where the exit code is the point). */
const inProcess = (args: string[], extra: Partial<CliOptions> = {}) => runInProcess(args, opts(extra))
/**
 * `qwenauth exec -- node -e <child>` in this process; the child shares the test's stdout, so it
 * writes what it saw to a file instead: returns the exit code and that file's text.
 */
async function execChild(args: string[], child: string, extra: Partial<CliOptions> = {}): Promise<{ code: number; output: string }> {
  const out = join(fx.home, 'child-output')
  const result = await inProcess(['exec', ...args, '--', process.execPath, '--input-type=module', '-e', child, out], extra)
  return { code: result.code, output: readFileSync(out, 'utf8') }
}

/** A child that prints its Anthropic variables and asks /v1/messages through them. */
const askClaudeWay = `
const base = process.env.ANTHROPIC_BASE_URL
const response = await fetch(base + '/v1/messages?beta=true', {
  method: 'POST',
  headers: { authorization: 'Bearer ' + process.env.ANTHROPIC_AUTH_TOKEN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
  body: JSON.stringify({ model: process.env.ANTHROPIC_MODEL, max_tokens: 32000, messages: [{ role: 'user', content: 'hi' }] }),
})
const answer = await response.json()
const vars = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ANTHROPIC_')))
const { writeFileSync } = await import('node:fs')
writeFileSync(process.argv[1], JSON.stringify({ vars, openaiKey: process.env.OPENAI_API_KEY, status: response.status, text: answer.content?.[0]?.text }))
`

async function addPresetKey(provider: string, key: string): Promise<void> {
  fx.emu.addApiKey(key)
  const ctx = createContext({ QWEN_HOME: fx.home })
  const now = Date.now()
  await ctx.accounts.update((doc) => void doc.accounts.unshift({ id: `${provider}-1`, label: provider, kind: 'api-key', provider, baseUrl: `${fx.emu.url}/v1`, apiKey: key, status: 'ok', createdAt: now, updatedAt: now }))
  await ctx.close()
}

describe('exec -- <Claude Code>', () => {
  it('sets the Anthropic variables to the private proxy and the one-time key, drops a key of the user, and the proxy answers', async () => {
    const result = await execChild([], askClaudeWay, { env: { ANTHROPIC_API_KEY: 'sk-ant-users-own' } })
    expect(result.code).toBe(0)
    const seen = JSON.parse(result.output)
    expect(seen.vars).toEqual({
      ANTHROPIC_BASE_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      ANTHROPIC_AUTH_TOKEN: seen.openaiKey,
      ANTHROPIC_MODEL: 'coder-model',
      ANTHROPIC_DEFAULT_OPUS_MODEL: 'coder-model',
      ANTHROPIC_DEFAULT_SONNET_MODEL: 'coder-model',
    })
    expect(seen.vars.ANTHROPIC_AUTH_TOKEN).toMatch(/^qwenauth-exec-/)
    expect(seen).toMatchObject({ status: 200, text: 'Hello from the Qwen emulator (coder-model)' })
  })

  it('maps claude-* names with --model-map', async () => {
    fx.emu.queueReplies({ text: 'fast' })
    const child = `const r = await fetch(process.env.ANTHROPIC_BASE_URL + '/v1/messages', { method: 'POST', headers: { 'x-api-key': process.env.ANTHROPIC_AUTH_TOKEN, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'claude-haiku-5-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }) }); (await import('node:fs')).writeFileSync(process.argv[1], (await r.json()).model)`
    const result = await execChild(['--model-map', 'claude-*haiku*=vision-model'], child)
    expect(result.output).toBe('vision-model')
  })
})

describe('env and Claude Code', () => {
  it("prints the Anthropic variables with the real key where the provider serves Anthropic's API", async () => {
    await addPresetKey('coding-plan-intl', 'sk-sp-coding-0123')
    const result = await inProcess(['env', '--shell', 'dotenv'])
    expect(result.code).toBe(0)
    expect(parseEnv(result.stdout)).toMatchObject({
      OPENAI_API_KEY: 'sk-sp-coding-0123',
      ANTHROPIC_BASE_URL: 'https://coding-intl.dashscope.aliyuncs.com/apps/anthropic',
      ANTHROPIC_AUTH_TOKEN: 'sk-sp-coding-0123',
      ANTHROPIC_MODEL: 'qwen3.5-plus',
    })
  })

  it('prints none for a Qwen OAuth account, and its help says Claude Code needs exec or serve', async () => {
    const result = await inProcess(['env', '--shell', 'dotenv'])
    expect(result.code).toBe(0)
    expect(Object.keys(parseEnv(result.stdout)).filter((k) => k.startsWith('ANTHROPIC_'))).toEqual([])
    const help = await runCli(['env', '--help'], opts())
    expect(help.stdout + help.stderr).toMatch(/Claude Code needs\s+`qwenauth exec -- claude` or `qwenauth serve`/)
  })

  it('login --anthropic-base-url stores a custom provider\'s Anthropic URL, which env then prints', async () => {
    const login = await inProcess(['login', '--provider', `${fx.emu.url}/v1`, '--anthropic-base-url', `${fx.emu.url}/apps/anthropic/`, '--no-verify', '--label', 'gateway'], { input: 'sk-custom-0123' })
    expect(login.code).toBe(0)
    const env = await inProcess(['env', '--shell', 'dotenv', '--account', 'gateway'])
    expect(parseEnv(env.stdout)).toMatchObject({ ANTHROPIC_BASE_URL: `${fx.emu.url}/apps/anthropic`, ANTHROPIC_AUTH_TOKEN: 'sk-custom-0123' })
    const refused = await runCli(['login', '--anthropic-base-url', 'https://x'], opts())
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/--anthropic-base-url are for API-key accounts/)
  })
})
