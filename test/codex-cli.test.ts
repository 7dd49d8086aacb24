/**
 * The real Codex CLI (@openai/codex, offline) through qwenauth: against `serve` with the
 * provider block the README gives, and under `qwenauth exec -- codex` with a shell command and
 * an apply_patch edit scripted through the emulator. The user's own ~/.codex is left exactly as
 * it was.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startProxyServer } from '../src/proxy/server.ts'
import { collect, runCli } from './helpers/cli.ts'
import { repoRoot } from './helpers/exec-fixtures.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

const bin = join(repoRoot, 'node_modules/.bin')
const CODEX_TIMEOUT_MS = 60_000

let fx: ProxyFixture
let home: string
let work: string

/** A stand-in user HOME with a ~/.codex of its own: settings, an API-key login, history. */
function userHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qwenauth-codex-home-'))
  mkdirSync(join(dir, '.codex'), { mode: 0o700 })
  writeFileSync(join(dir, '.codex/config.toml'), 'model = "gpt-5.5"\n\n[tui]\nscreen_reader_detection_done = true\n')
  writeFileSync(join(dir, '.codex/auth.json'), JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: 'sk-user-own-openai-key' }))
  writeFileSync(join(dir, '.codex/history.jsonl'), '{"session_id":"s","ts":1,"text":"an old prompt"}\n')
  return dir
}

/** sha256 of each file directly in a directory. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    if (name.isFile()) out[name.name] = createHash('sha256').update(readFileSync(join(dir, name.name))).digest('hex')
  }
  return out
}

/** What Codex needs around it: that HOME, node_modules/.bin first on PATH, no OpenAI variables. */
function codexEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { HOME: home, PATH: `${bin}:${process.env.PATH}`, CODEX_HOME: undefined, OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, ...extra }
}

beforeEach(async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'codex@example.com')
  home = userHome()
  work = mkdtempSync(join(tmpdir(), 'qwenauth-codex-work-'))
})
afterEach(async () => {
  await fx.cleanup()
  rmSync(home, { recursive: true, force: true })
  rmSync(work, { recursive: true, force: true })
})

describe('Codex CLI', () => {
  it('runs `codex exec` against serve with the README provider block in its own CODEX_HOME', async () => {
    const key = 'sk-serve-codex-0123456789'
    const server = await startProxyServer({ ctx: fx.ctx, host: '127.0.0.1', port: 0, apiKeys: [key], log: () => {} })
    const before = snapshot(join(home, '.codex'))
    const codexHome = join(home, 'codex-serve')
    mkdirSync(codexHome)
    writeFileSync(
      join(codexHome, 'config.toml'),
      [
        'model = "coder-model"',
        'model_provider = "qwenauth"',
        '',
        '[model_providers.qwenauth]',
        'name = "qwenauth"',
        `base_url = "${server.url}/v1"`,
        'env_key = "QWENAUTH_KEY"',
        'wire_api = "responses"',
        // Bounded: a failure ends the run at once instead of after Codex's 30 retries.
        'request_max_retries = 0',
        'stream_max_retries = 0',
        '',
      ].join('\n'),
    )
    try {
      fx.emu.queueReplies({ text: 'Hi from Qwen through serve.' })
      const child = spawn(join(bin, 'codex'), ['exec', '--skip-git-repo-check', 'say hi'], {
        cwd: work,
        env: { ...process.env, ...definedOnly(codexEnv({ CODEX_HOME: codexHome, QWENAUTH_KEY: key })) },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const result = await collect(child, undefined, CODEX_TIMEOUT_MS)
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain('Hi from Qwen through serve.')
      const request = fx.emu.requests[0]
      expect(request?.path).toBe('/v1/chat/completions')
      expect((request?.body as { stream: boolean }).stream).toBe(true)
      expect(snapshot(join(home, '.codex'))).toEqual(before)
    } finally {
      await server.close()
    }
  }, CODEX_TIMEOUT_MS + 10_000)

  it('runs under `qwenauth exec -- codex exec`: a shell command, an apply_patch edit, the answer, and ~/.codex untouched', async () => {
    const before = snapshot(join(home, '.codex'))
    const patch = '*** Begin Patch\n*** Add File: patched.txt\n+hello from apply_patch\n*** End Patch\n'
    fx.emu.queueReplies(
      { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'echo hello-from-tool > tool-out.txt' }, id: 'call_sh' }] },
      { toolCalls: [{ name: 'apply_patch', arguments: { input: patch }, id: 'call_patch' }] },
      { text: 'Both files are written.' },
    )
    const result = await runCli(
      // No sandbox: the test must not depend on user namespaces on the machine running it.
      ['exec', '--', 'codex', '-c', 'model_providers.qwenauth.request_max_retries=0', '-c', 'model_providers.qwenauth.stream_max_retries=0', 'exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-C', work, 'write the files'],
      { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, ...codexEnv() }, timeoutMs: CODEX_TIMEOUT_MS },
    )
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('Both files are written.')
    expect(readFileSync(join(work, 'tool-out.txt'), 'utf8')).toBe('hello-from-tool\n')
    expect(readFileSync(join(work, 'patched.txt'), 'utf8')).toBe('hello from apply_patch\n')

    const bodies = fx.emu.requests.map((r) => r.body as { model: string; messages: Array<{ role: string; content: unknown }>; tools: Array<{ function: { name: string } }> })
    expect(bodies).toHaveLength(3)
    expect(bodies[0]?.model).toBe('coder-model')
    // The catalog made Codex offer apply_patch (freeform) beside its shell tool.
    expect(bodies[0]?.tools.map((t) => t.function.name)).toEqual(expect.arrayContaining(['exec_command', 'apply_patch']))
    expect(String(bodies[1]?.messages.at(-1)?.content)).toMatch(/Process exited with code 0/)
    expect(String(bodies[2]?.messages.at(-1)?.content)).toMatch(/Success\. Updated the following files:\nA patched\.txt/)

    const after = snapshot(join(home, '.codex'))
    for (const [name, hash] of Object.entries(before)) expect(after[name], name).toBe(hash)
    expect(existsSync(join(home, '.codex/models_cache.json'))).toBe(false)
  }, CODEX_TIMEOUT_MS + 10_000)

  it("leaves another program's arguments exactly as given, Codex-looking flags included", async () => {
    const printArgv = join(repoRoot, 'test/fixtures/exec/print-argv.mjs')
    const plain = await runCli(['exec', '--', process.execPath, printArgv, '-c', 'x'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url } })
    expect(plain.code, plain.stderr).toBe(0)
    expect(JSON.parse(plain.stdout)).toEqual(['-c', 'x'])
  })
})

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}
