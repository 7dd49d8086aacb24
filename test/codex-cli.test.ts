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
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { startProxyServer } from '../src/proxy/server.ts'
import { collect, runCli } from './helpers/cli.ts'
import { repoRoot } from './helpers/exec-fixtures.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { python3 } from './helpers/python.ts'

const bin = join(repoRoot, 'node_modules/.bin')
const CODEX_TIMEOUT_MS = 60_000

let fx: ProxyFixture
let home: string
let work: string

/** A stand-in user HOME with a ~/.codex of its own: settings, an API-key login, history. */
function userHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qwenauth-codex-home-'))
  mkdirSync(join(dir, '.codex'), { mode: 0o700 })
  mkdirSync(join(dir, 'tmp'))
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
  // TMPDIR too: what Codex keeps in the temp directory goes away with the test's HOME.
  return { HOME: home, TMPDIR: join(home, 'tmp'), PATH: `${bin}:${process.env.PATH}`, CODEX_HOME: undefined, OPENAI_API_KEY: undefined, OPENAI_BASE_URL: undefined, ...extra }
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

  it('runs interactive `codex` under `qwenauth exec`: a prompt typed at the terminal gets the answer', async () => {
    const before = snapshot(join(home, '.codex'))
    fx.emu.queueReplies({ text: 'pineapple-42' })
    const child = spawn(python3(), ['-c', TERMINAL, 'Ask Codex', 'say hi', 'pineapple-42', '/quit', process.execPath, inject('nodeCli'), 'exec', '--', 'codex', '-C', work], {
      env: { ...process.env, ...definedOnly(codexEnv({ QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url, TERM: 'xterm-256color' })) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const result = await collect(child, undefined, CODEX_TIMEOUT_MS)
    expect(result.code, `${result.stderr}\n${result.stdout.slice(-2000)}`).toBe(0)
    expect(onScreen(result.stdout)).toContain('pineapple-42')
    expect((fx.emu.requests[0]?.body as { messages: Array<{ content: unknown }> }).messages.at(-1)?.content).toBe('say hi')
    // Settings and login untouched; the prompt joins the user's own history, as without qwenauth.
    const after = snapshot(join(home, '.codex'))
    expect([after['config.toml'], after['auth.json']]).toEqual([before['config.toml'], before['auth.json']])
    const history = readFileSync(join(home, '.codex/history.jsonl'), 'utf8')
    expect(history.startsWith('{"session_id":"s","ts":1,"text":"an old prompt"}\n')).toBe(true)
    expect(history).toContain('"text":"say hi"')
  }, CODEX_TIMEOUT_MS + 10_000)

  it("leaves another program's arguments exactly as given, Codex-looking flags included", async () => {
    const printArgv = join(repoRoot, 'test/fixtures/exec/print-argv.mjs')
    const plain = await runCli(['exec', '--', process.execPath, printArgv, '-c', 'x'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url } })
    expect(plain.code, plain.stderr).toBe(0)
    expect(JSON.parse(plain.stdout)).toEqual(['-c', 'x'])
  })
})

/**
 * A terminal for an interactive program (python3's pty; Node has none): waits for a marker, types
 * a prompt and Enter, waits for the answer, types the quit command, and exits with the
 * program's code. Bounded: 25 s for the program to be ready, 20 s for the answer, 8 s to exit.
 * argv: ready-marker, prompt, answer-marker, quit-command, command...
 */
const TERMINAL = String.raw`
import fcntl, os, pty, re, select, signal, struct, sys, termios, time
ready, prompt, answer, quit = (a.encode() for a in sys.argv[1:5])
# What the screen says, without escape sequences and spaces: a TUI may draw a word in pieces.
CONTROL = re.compile(rb'\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|\s')
def shown(data, marker):
    return CONTROL.sub(b'', marker) in CONTROL.sub(b'', data)
cmd = sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(cmd[0], cmd, os.environ)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 120, 0, 0))
seen = b''
def wait_for(marker, limit=40):
    global seen
    deadline = time.time() + limit
    while time.time() < deadline:
        if shown(seen, marker):
            return True
        if select.select([fd], [], [], 0.05)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            seen += data
            sys.stdout.buffer.write(data)
    return False
def typed(text):
    # Enter only once the composer shows the text: typed too early, or Enter as part of the
    # same burst (read as a paste), it would not submit.
    mark = len(seen)
    os.write(fd, text)
    deadline = time.time() + 10
    while time.time() < deadline and not shown(seen[mark:], text):
        wait_for(b'\x00never', 0.1)
    time.sleep(0.2)
    os.write(fd, b'\r')
ok = wait_for(ready, 25) and (time.sleep(0.5) or typed(prompt) or wait_for(answer, 20)) and (typed(quit) or True)
deadline = time.time() + 8
status = None
while time.time() < deadline:
    wait_for(b'\x00never', 0.1)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
sys.stdout.flush()
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.stderr.write('terminal: %s\n' % ('no exit after quit' if ok else 'a marker never showed'))
    sys.exit(124)
sys.exit(os.waitstatus_to_exitcode(status) if ok else 125)
`

/** Terminal output as text without escape sequences and spaces (a TUI may draw a word in pieces). */
function onScreen(output: string): string {
  return output.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|\s/g, '')
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}
