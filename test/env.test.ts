import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { formatEnv, quoteDotenv, type ShellFormat } from '../src/lib/shell-quote.ts'
import { runCli } from './helpers/cli.ts'
import { loggedIn, type LoggedIn } from './helpers/exec-fixtures.ts'
import { runInProcess } from './helpers/in-process.ts'

const NAMES = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'] as const

/** Values a naive quoter gets wrong in at least one shell. */
const TRICKY: Record<string, string> = {
  A: `it's "quoted"`,
  B: 'back\\slash \\\' and \\\\ twice',
  C: '$HOME ${PATH} $(echo no) `echo no`',
  D: 'line one\nline two\n',
  E: 'glob * ? [a] ~ ! # ; & | < >',
  F: 'typographic ‘single’ ‚low‛ “double”',
  G: '',
  H: ' leading and trailing spaces ',
}

/** How to read assignments back in each shell and print the variables as JSON-able lines. */
const READERS: Partial<Record<ShellFormat, { bin: string; args: (file: string) => string[] }>> = {
  bash: { bin: 'bash', args: (f) => ['-c', `eval "$(cat '${f}')"; for n in ${NAMES.join(' ')}; do printf '%s\\0' "\${!n}"; done`] },
  zsh: { bin: 'zsh', args: (f) => ['-c', `eval "$(cat '${f}')"; for n in ${NAMES.join(' ')}; do printf '%s\\0' "\${(P)n}"; done`] },
  fish: { bin: 'fish', args: (f) => ['-c', `source '${f}'; for n in ${NAMES.join(' ')}; printf '%s\\0' "$$n"; end`] },
  powershell: { bin: 'pwsh', args: (f) => ['-NoProfile', '-Command', `. '${f}'; foreach ($n in '${NAMES.join("','")}') { [Console]::Out.Write((Get-Item "env:$n" -ErrorAction SilentlyContinue).Value + [char]0) }`] },
}

function installed(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'qwenauth-env-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes the assignments with the extension PowerShell insists on, runs the reader, returns the values. */
function readBack(format: ShellFormat, text: string): string[] {
  const reader = READERS[format]
  if (!reader) throw new Error(`no reader for ${format}`)
  const file = join(dir, `vars-${format}.${format === 'powershell' ? 'ps1' : 'sh'}`)
  writeFileSync(file, text)
  const result = spawnSync(reader.bin, reader.args(file), { encoding: 'utf8', timeout: 10_000, env: { ...process.env, HOME: dir } })
  if (result.status !== 0) throw new Error(`${reader.bin} failed: ${result.stderr}`)
  return result.stdout.split('\0').slice(0, -1)
}

describe('shell quoting, read back by the real shells', () => {
  it('bash is installed here (the one shell every machine must test)', () => {
    expect(installed('bash')).toBe(true)
  })

  for (const format of ['bash', 'zsh', 'fish', 'powershell'] as const) {
    const bin = READERS[format]?.bin ?? format
    it.skipIf(!installed(bin))(`${format}: every value comes back byte for byte`, () => {
      expect(readBack(format, formatEnv(TRICKY, format))).toEqual(NAMES.map((n) => TRICKY[n]))
    })
  }

  it('posix output is also read back by sh (dash)', () => {
    const file = join(dir, 'vars-sh.sh')
    writeFileSync(file, formatEnv(TRICKY, 'bash'))
    const script = `. '${file}'; ${NAMES.map((n) => `printf '%s\\0' "$${n}"`).join('; ')}`
    const result = spawnSync('sh', ['-c', script], { encoding: 'utf8' })
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(NAMES.map((n) => TRICKY[n]))
  })

  it('dotenv: values it can write are read back by Node (util.parseEnv and --env-file); the rest are refused', () => {
    const safe = { A: `it's "quoted"`.replace(/"/g, ''), B: 'has "double" quotes', C: '$HOME and # hash', D: 'https://x.test/v1?a=b&c=d' }
    const text = formatEnv(safe, 'dotenv')
    expect(parseEnv(text)).toEqual(safe)
    const file = join(dir, 'vars.env')
    writeFileSync(file, text)
    const result = spawnSync(process.execPath, [`--env-file=${file}`, '-e', 'console.log(JSON.stringify([process.env.A, process.env.B, process.env.C, process.env.D]))'], { encoding: 'utf8' })
    expect(JSON.parse(result.stdout)).toEqual(Object.values(safe))
    expect(() => quoteDotenv('two\nlines')).toThrow(/dotenv/)
    expect(() => quoteDotenv(`both ' and "`)).toThrow(/dotenv/)
  })

  it('json is plain JSON', () => {
    expect(JSON.parse(formatEnv(TRICKY, 'json'))).toEqual(TRICKY)
  })
})

describe('qwenauth env', () => {
  let fx: LoggedIn
  beforeEach(async () => {
    fx = await loggedIn()
  })
  afterEach(async () => {
    await fx.cleanup()
  })

  /** `qwenauth env <argv>` in this process. */
  const env = (argv: string[], home = fx.home) => runInProcess(['env', ...argv], { home, env: fx.env })

  const expectedVars = async () => {
    const token = (await fx.account()).accessToken
    return { OPENAI_API_KEY: token, OPENAI_BASE_URL: `${fx.emu.url}/v1`, OPENAI_MODEL: 'coder-model', QWEN_MODEL: 'coder-model' }
  }

  it('prints bash exports of the real token by default, for eval', async () => {
    const result = await runCli(['env'], { home: fx.home, env: fx.env })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^export OPENAI_API_KEY='/)
    const file = join(dir, 'from-cli.sh')
    writeFileSync(file, result.stdout)
    const shown = spawnSync('bash', ['-c', `eval "$(cat '${file}')"; printf '%s\\n' "$OPENAI_API_KEY" "$OPENAI_BASE_URL" "$OPENAI_MODEL" "$QWEN_MODEL"`], { encoding: 'utf8' })
    const want = await expectedVars()
    expect(shown.stdout.split('\n').slice(0, 4)).toEqual([want.OPENAI_API_KEY, want.OPENAI_BASE_URL, want.OPENAI_MODEL, want.QWEN_MODEL])
    expect(fx.emu.stats.refreshes).toBe(0)
  })

  for (const format of ['bash', 'zsh', 'fish', 'powershell'] as const) {
    const bin = READERS[format]?.bin ?? format
    it.skipIf(!installed(bin))(`--shell ${format} is read back by ${bin}`, async () => {
      const result = await env(['--shell', format])
      expect(result.code).toBe(0)
      const text = result.stdout.replace(/(OPENAI_API_KEY|OPENAI_BASE_URL|OPENAI_MODEL|QWEN_MODEL)/g, (m) => NAMES[['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_MODEL', 'QWEN_MODEL'].indexOf(m)] ?? m)
      expect(readBack(format, text).slice(0, 4)).toEqual(Object.values(await expectedVars()))
    })
  }

  it('--shell json and --shell dotenv carry the same variables', async () => {
    const want = await expectedVars()
    const json = JSON.parse((await env(['--shell', 'json'])).stdout)
    expect(json).toMatchObject(want)
    expect(json.QWEN_CODE_SYSTEM_SETTINGS_PATH).toContain(fx.home)
    const dotenv = parseEnv((await env(['--shell', 'dotenv'])).stdout)
    expect(dotenv).toEqual(json)
  })

  it('refreshes a token that expires within the margin before printing it', async () => {
    const ctx = createContext({ QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url })
    await ctx.accounts.update((doc) => {
      const a = doc.accounts[0]
      if (a) a.expiresAt = Date.now() + 2 * 60_000
    })
    const old = (await fx.account()).accessToken
    const json = JSON.parse((await env(['--shell', 'json'])).stdout)
    expect(fx.emu.stats.refreshes).toBe(1)
    expect(json.OPENAI_API_KEY).not.toBe(old)
    expect(json.OPENAI_API_KEY).toBe((await fx.account()).accessToken)
  })

  it('--account and --model choose what is printed', async () => {
    const ctx = createContext({ QWEN_HOME: fx.home, QWENAUTH_OAUTH_URL: fx.emu.url })
    await ctx.accounts.update((doc) => {
      doc.accounts.push({ id: 'key-2', label: 'second', kind: 'api-key', provider: 'openrouter', baseUrl: 'https://openrouter.ai/api/v1', apiKey: "sk-or-v1-it's-a-key", status: 'ok', createdAt: 1, updatedAt: 1 })
    })
    const json = JSON.parse((await env(['--shell', 'json', '--account', 'key-2'])).stdout)
    expect(json).toMatchObject({ OPENAI_API_KEY: "sk-or-v1-it's-a-key", OPENAI_BASE_URL: 'https://openrouter.ai/api/v1', OPENAI_MODEL: 'qwen/qwen3-coder' })
    const withModel = JSON.parse((await env(['--shell', 'json', '-a', 'key-2', '--model', 'x/y'])).stdout)
    expect(withModel.QWEN_MODEL).toBe('x/y')
  })

  it('an unknown shell is a usage error; no account exits 3', async () => {
    expect((await env(['--shell', 'tcsh'])).code).toBe(2)
    expect((await env([], join(fx.home, 'empty'))).code).toBe(3)
  })
})
