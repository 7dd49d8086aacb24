import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest'
import { resolveCommand } from '../src/commands/_tree.ts'
import { renderHelp } from '../src/commands/_usage.ts'
import { createContext } from '../src/context.ts'
import { cliEnv, collect, runCli, spawnCli, type CliOptions } from './helpers/cli.ts'
import { execFixture, loggedIn, waitForStdout, type LoggedIn } from './helpers/exec-fixtures.ts'
import { runInProcess, type InProcessOptions } from './helpers/in-process.ts'
import { waitFor } from './helpers/proxy-fixtures.ts'

let fx: LoggedIn
beforeEach(async () => {
  fx = await loggedIn()
})
afterEach(async () => {
  await fx.cleanup()
})

const opts = (extra: Partial<CliOptions> = {}): CliOptions => ({ home: fx.home, ...extra, env: { ...fx.env, ...extra.env } })

/**
 * `qwenauth exec` in this process. The program it starts shares the test's stdout, so programs
 * here write what they have to say to the file `out()` names (their first argument).
 */
const exec = (argv: string[], extra: Partial<InProcessOptions> = {}) => runInProcess(['exec', ...argv], { home: fx.home, ...extra, env: { ...fx.env, ...extra.env } })
const out = () => join(fx.home, 'child-output')
const childSaid = () => readFileSync(out(), 'utf8')
/** The variables the child reports, one line each in this order (a shell's printf: no runtime to start). */
const REPORTED = { key: 'OPENAI_API_KEY', base: 'OPENAI_BASE_URL', model: 'OPENAI_MODEL', qwenModel: 'QWEN_MODEL', keep: 'KEEP_ME', settings: 'QWEN_CODE_SYSTEM_SETTINGS_PATH' }
/** `-- sh -c 'printf …' sh <file>`: the child writes the variables it got to the file. */
const printEnvArgs = () => ['--', 'sh', '-c', `printf '%s\\n' ${Object.values(REPORTED).map((name) => `"$${name}"`).join(' ')} > "$1"`, 'sh', out()]
const seenEnv = (): Record<keyof typeof REPORTED, string> => {
  const lines = childSaid().split('\n')
  return Object.fromEntries(Object.keys(REPORTED).map((field, i) => [field, lines[i]])) as Record<keyof typeof REPORTED, string>
}

/**
 * A shell command that asks $OPENAI_BASE_URL/chat/completions with $OPENAI_API_KEY once, by curl:
 * any client will do, and curl starts in milliseconds where node takes a tenth of a second.
 */
const curlChat = (options: string) =>
  `curl -s ${options} -o /dev/null -H "authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' -d "{\\"model\\":\\"$OPENAI_MODEL\\",\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"hi\\"}]}" "$OPENAI_BASE_URL/chat/completions"`

describe('exec through the private proxy', () => {
  it('gives the child a one-time key and a loopback URL, never the real token, and keeps the rest of the environment', async () => {
    const result = await exec(printEnvArgs(), { env: { KEEP_ME: 'kept' } })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const seen = seenEnv()
    const account = await fx.account()
    expect(seen.key).toMatch(/^qwenauth-exec-/)
    expect(seen.key).not.toBe(account.accessToken)
    expect(seen.base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    expect(seen).toMatchObject({ model: 'coder-model', qwenModel: 'coder-model', keep: 'kept' })
    expect(seen.settings).toContain(fx.home)
  })

  it('serves an openai SDK child with the account token and Qwen headers, also after the token expires mid-run', async () => {
    const run = exec(['--', process.execPath, execFixture('openai-child.mjs'), out()])
    await waitFor(() => existsSync(out()) && childSaid().includes('answer1:'), 10_000, 'the first answer')
    const tokenBefore = (await fx.account()).accessToken
    fx.emu.expireAccessTokens()
    writeFileSync(`${out()}.go`, '')
    const result = await run
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(childSaid()).toBe('answer1: Hello from the Qwen emulator (coder-model)\nanswer2: Hello from the Qwen emulator (coder-model)\n')
    expect(fx.emu.stats.refreshes).toBe(1)
    const tokenAfter = (await fx.account()).accessToken
    expect(tokenAfter).not.toBe(tokenBefore)
    const chats = fx.emu.requests.filter((r) => r.path === '/v1/chat/completions' && r.status === 200)
    expect(chats.map((r) => r.auth)).toEqual([tokenBefore, tokenAfter])
    for (const r of chats) {
      expect(r.headers['x-dashscope-authtype']).toBe('qwen-oauth')
      expect(r.headers['x-dashscope-useragent']).toMatch(/^QwenCode\//)
    }
  })

  it('--account puts that account first for this run only', async () => {
    fx.emu.addApiKey('sk-second-account-key')
    const ctx = createContext({ QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url })
    await ctx.accounts.update((doc) => {
      doc.accounts.push({ id: 'key-2', label: 'second', kind: 'api-key', provider: 'custom', baseUrl: `${fx.emu.url}/v1`, apiKey: 'sk-second-account-key', model: 'coder-model', status: 'ok', createdAt: 1, updatedAt: 1 })
    })
    // -f: an answer other than 2xx fails the program, and so `exec`.
    const curl = ['sh', '-c', curlChat('-f')]
    expect((await exec(['--account', 'key-2', '--', ...curl])).code).toBe(0)
    expect(fx.emu.requests.at(-1)?.auth).toBe('sk-second-account-key')
    expect((await exec(['--', ...curl])).code).toBe(0)
    expect(fx.emu.requests.at(-1)?.auth).toBe((await fx.account()).accessToken)
    expect((await ctx.accounts.read()).accounts.map((a) => a.id)[1]).toBe('key-2')
  })
})

describe('exec when no account can serve', () => {
  const marker = `require('node:fs').writeFileSync(process.argv[1], 'started')`

  it('does not start the program, and says why and when the first account is back', async () => {
    const account = await fx.account()
    const ctx = createContext({ QWEN_HOME: fx.home })
    await ctx.accounts.update((doc) => void Object.assign(doc.accounts[0]!, { status: 'cooling-down', cooldownUntil: Date.now() + 30 * 60_000 }))
    fx.emu.reset()
    const started = `${fx.home}/started`
    const result = await exec(['--', process.execPath, '-e', marker, started])
    expect(result.code).toBe(10)
    expect((result.error as Error).message).toMatch(new RegExp(`no account can serve right now: .*\\(${account.id}\\): cooling down for (29|30):\\d\\d.*can serve again in`))
    expect(existsSync(started)).toBe(false)
    expect(fx.emu.requests).toHaveLength(0)
  })

  it('while the program runs, an answer no account can serve is one line on stderr per condition, and not a 5xx to retry', async () => {
    const key = 'sk-runs-out-0123456789'
    fx.emu.addApiKey(key)
    const ctx = createContext({ QWEN_HOME: fx.home })
    const now = Date.now()
    // A key account in front of a not-served login; the provider says the key is out of quota
    // once the run has started.
    await ctx.accounts.update((doc) => {
      for (const a of doc.accounts) a.status = 'not-served'
      doc.accounts.unshift({ id: 'key-1', label: 'runs-out', kind: 'api-key', provider: 'custom', baseUrl: `${fx.emu.url}/v1`, apiKey: key, status: 'ok', createdAt: now, updatedAt: now })
    })
    fx.emu.setApiKeyState(key, 'quota')
    // Three requests: their statuses one a line, the headers of each in a file of its own.
    const ask = (n: number) => curlChat(`-D "$1.headers${n}" -w '%{http_code}\\n'`)
    const result = await exec(['--', 'sh', '-c', `{ ${ask(1)}; ${ask(2)}; ${ask(3)}; } > "$1"`, 'sh', out()])
    expect(result.code, result.stderr).toBe(0)
    expect(childSaid()).toBe('429\n429\n429\n')
    expect(Number(/^retry-after: *(\d+)/im.exec(readFileSync(`${out()}.headers2`, 'utf8'))?.[1])).toBeGreaterThan(0)
    const lines = result.stderr.split('\n').filter((l) => l.includes('no account can serve right now'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^\[warn\] .*runs-out \(key-1\): cooling down for/)
  })
})

describe('exec --direct', () => {
  it("hands over the account's real token and base URL", async () => {
    const result = await exec(['--direct', ...printEnvArgs()])
    expect(result.code).toBe(0)
    const seen = seenEnv()
    const account = await fx.account()
    expect(seen).toMatchObject({ key: account.accessToken, base: `${fx.emu.url}/v1`, model: 'coder-model' })
    expect(fx.emu.stats.refreshes).toBe(0)
  })

  it('refreshes first when less than the margin remains, and not otherwise', async () => {
    const ctx = createContext({ QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url })
    await ctx.accounts.update((doc) => {
      const a = doc.accounts[0]
      if (a) a.expiresAt = Date.now() + 5 * 60_000
    })
    const old = (await fx.account()).accessToken
    expect((await exec(['--direct', '--refresh-margin', '1m', ...printEnvArgs()])).code).toBe(0)
    expect(seenEnv().key).toBe(old)
    expect(fx.emu.stats.refreshes).toBe(0)
    expect((await exec(['--direct', ...printEnvArgs()])).code).toBe(0)
    expect(fx.emu.stats.refreshes).toBe(1)
    const seen = seenEnv()
    expect(seen.key).not.toBe(old)
    expect(seen.key).toBe((await fx.account()).accessToken)
  })

  it('uses --model for OPENAI_MODEL and QWEN_MODEL', async () => {
    expect((await exec(['--direct', '--model', 'qwen3-coder-plus', ...printEnvArgs()])).code).toBe(0)
    expect(seenEnv()).toMatchObject({ model: 'qwen3-coder-plus', qwenModel: 'qwen3-coder-plus' })
  })
})

describe('exec runs the program as if qwenauth were not there', () => {
  for (const runtime of ['node', 'binary'] as const) {
    describe(runtime, () => {
      it("passes stdin through, and exits with the child's exit code", async () => {
        const result = await runCli(['exec', '--', 'sh', '-c', 'cat; exit 42'], opts({ runtime, input: 'line one\nline two\n' }))
        expect(result).toMatchObject({ code: 42, stdout: 'line one\nline two\n' })
      })

      it('exits 128+n when a signal kills the child', async () => {
        expect((await runCli(['exec', '--', 'sh', '-c', 'kill -KILL $$'], opts({ runtime }))).code).toBe(137)
      })

      it('a command that does not exist exits 127 with one line', async () => {
        const result = await runCli(['exec', '--', 'no-such-command-qwenauth'], opts({ runtime }))
        expect(result.code).toBe(127)
        expect(result.stderr.trim().split('\n')).toHaveLength(1)
        expect(result.stderr).toContain('command not found: no-such-command-qwenauth')
      })

      it('passes SIGTERM, SIGHUP and SIGINT on: a child that traps them and exits 7 after the last makes qwenauth exit 7', async () => {
        // One run for the three: the child says which signal it got before the next is sent.
        expect(await signalRun(runtime, ['SIGTERM', 'SIGHUP', 'SIGINT'])).toBe(7)
      })

      it('an untrapped SIGTERM passed on ends with 143', async () => {
        expect(await signalRun(runtime, ['none'], ['SIGTERM'])).toBe(143)
      })
    })
  }

  it.skipIf(spawnSync('sh', ['-c', 'command -v script']).status !== 0)('a terminal stays a terminal, and Ctrl-C there reaches the child once', async () => {
    // util-linux `script` gives qwenauth a pseudo-terminal; ^C typed into it is the real Ctrl-C.
    // `exec`: script runs the command through $SHELL -c, and dash (SHELL unset) stays as a parent
    // that the same ^C kills, so script would report its 130 instead of qwenauth's exit code.
    const command = ['exec', ...[process.execPath, inject('nodeCli'), 'exec', '--', process.execPath, execFixture('count-sigint.mjs')].map((a) => `'${a}'`)].join(' ')
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cliEnv(opts()), stdio: 'pipe' })
    const done = collectOpen(child)
    await waitForStdout(child, 'ready')
    child.stdin?.write('\x03')
    const result = await done
    expect(result.stdout).toContain('ready tty=true')
    expect(result.stdout).toContain('sigints=1 tty=true')
    expect(result.code).toBe(5)
  })

  it('passes arguments after -- exactly, flags and a second -- included', async () => {
    const args = ['--help', '-m', 'x', '--', '--direct', '', 'two words', "it's"]
    const result = await runCli(['exec', '--', process.execPath, execFixture('print-argv.mjs'), ...args], opts())
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual(args)
  })

  it('shows its own help before --, with what --direct trades away and the qwen CLI note', async () => {
    const help = await renderHelp(await resolveCommand(['exec', '--help']), { isTTY: false })
    expect(help).toContain('--direct')
    expect(help).toContain('QWEN_CODE_SYSTEM_SETTINGS_PATH')
    expect(help).toContain('holds the real token')
  })

  it.each([[[]], [['--']], [['true']], [['--dierct', '--', 'true']], [['--model']]])('exec %j is a usage error', async (args) => {
    const result = await exec(args)
    expect(result.code).toBe(2)
    expect((result.error as Error).message).not.toContain('\n')
  })

  it('needs an account', async () => {
    expect((await exec(['--', 'true'], { home: `${fx.home}/empty` })).code).toBe(3)
  })
})

/**
 * `exec -- node trap-signal.mjs <traps…>`: sends each signal of `send` in turn, each once the
 * child has said it got the one before; resolves with qwenauth's exit code.
 */
async function signalRun(runtime: 'node' | 'binary', traps: string[], send = traps as NodeJS.Signals[]): Promise<number | null> {
  const child = spawnCli(['exec', '--', process.execPath, execFixture('trap-signal.mjs'), ...traps], opts({ runtime }))
  const done = collect(child, undefined, 15_000)
  await waitForStdout(child, 'ready')
  for (const signal of send) {
    const got = traps.includes(signal) ? waitForStdout(child, `got ${signal}`) : undefined
    child.kill(signal)
    await got
  }
  return (await done).code
}

/** Like collect, but leaves stdin to the test. */
function collectOpen(child: ChildProcess) {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, 20_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}
