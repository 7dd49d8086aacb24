import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkArguments } from '../src/commands/_check-args.ts'
import { resolveCommand } from '../src/commands/_tree.ts'
import { renderHelp } from '../src/commands/_usage.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'
import { runCliOnPty } from './helpers/pty.ts'

let home: string
let cleanup: () => void
beforeAll(() => {
  ;({ home, cleanup } = tempHome())
})
afterAll(() => cleanup())

/** What qwenauth does with these arguments up to running the command: resolve it, check them. */
async function check(argv: string[]): Promise<void> {
  await checkArguments(await resolveCommand(argv))
}

describe('every command refuses what it does not take (exit 2, one line, a guess when close)', () => {
  it.each([
    [['env', '--shel', 'fish'], 'unknown option --shel: did you mean --shell? (see `qwenauth env --help`)'],
    [['status', '--josn'], 'unknown option --josn: did you mean --json? (see `qwenauth status --help`)'],
    [['login', '--provder', 'openrouter'], 'unknown option --provder: did you mean --provider? (see `qwenauth login --help`)'],
    [['serve', '--prot', '0'], 'unknown option --prot: did you mean --port?'],
    [['use', 'x', '--frobnicate'], 'unknown option --frobnicate (see `qwenauth use --help`)'],
    [['stauts'], 'unknown command "stauts": did you mean `qwenauth status`? (see `qwenauth --help`)'],
    [['store', 'cpy'], 'unknown command "cpy": did you mean `qwenauth store copy`? (see `qwenauth store --help`)'],
    [['status', 'extra'], 'unexpected argument "extra" (see `qwenauth status --help`)'],
    [['logout', 'a', 'b'], 'unexpected argument "b" (see `qwenauth logout --help`)'],
    [['token', '--account'], '--account needs a value (see `qwenauth token --help`)'],
    [['env', '--shell', '--account', 'x'], '--shell needs a value'],
    [['status', '--json=yes'], '--json takes no value'],
    [['use'], 'missing account: qwenauth use <account> (see `qwenauth use --help`)'],
    [['store', 'copy', '--from', 'a'], 'missing --to (see `qwenauth store copy --help`)'],
    [['--json', 'status'], '--json before the command: options go after the command: qwenauth status --json'],
    [['exec', '--dierct', '--', 'true'], 'unknown option --dierct: did you mean --direct? (see `qwenauth exec --help`)'],
    [['exec', 'true'], 'unexpected argument "true": put the program after `--`, as in qwenauth exec -- true'],
    [['logout', '--', 'a', 'b'], 'unexpected argument "b"'],
  ])('%j', async (argv, message) => {
    await expect(check(argv)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(message) })
  })

  it('a positional account where --account is taken is refused, never answered for another account', async () => {
    await expect(check(['token', 'acct3@example.com'])).rejects.toThrow(
      'unexpected argument "acct3@example.com": to name an account, use qwenauth token --account acct3@example.com',
    )
    await expect(check(['env', 'acct3@example.com'])).rejects.toThrow('use qwenauth env --account acct3@example.com')
    await expect(check(['use', '--account', 'x'])).rejects.toThrow('qwenauth use takes the account as an argument, not as --account: qwenauth use <account>')
  })

  it('`token <account>` never prints the token of another (the active) account', async () => {
    const { home: own, cleanup: removeOwn } = tempHome()
    try {
      for (const [label, key] of [['first', 'sk-first-key-1111'], ['acct3@example.com', 'sk-acct3-key-3333']] as const) {
        const added = await runInProcess(['login', '--provider', 'openrouter', '--no-verify', '--label', label], { home: own, input: key })
        expect(added.code, added.stderr).toBe(0)
      }
      const result = await runInProcess(['token', 'acct3@example.com'], { home: own })
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect((result.error as Error).message).toContain('use qwenauth token --account acct3@example.com')
      expect((await runInProcess(['token', '--account', 'acct3@example.com'], { home: own })).stdout).toBe('sk-acct3-key-3333\n')
    } finally {
      removeOwn()
    }
  })

  it('login never repeats a stray word (it may be the key)', async () => {
    await expect(check(['login', '--provider', 'openrouter', 'sk-secret-123456'])).rejects.toThrow(/^login takes no positional arguments; to add an API key, pipe it/)
    await expect(check(['login', '--api-key', 'sk-secret-123456'])).rejects.toThrow(/never takes an API key as an argument/)
    await expect(check(['login', 'sk-secret-123456'])).rejects.not.toThrow(/secret/)
  })

  it.each([
    [['login', '--no-verify', '--no-browser', '--provider=openrouter', '--alias', 'a=b', '--alias=c=d']],
    [['login', '--apiKeyEnv', 'KEY', '--provider', 'x', '--json=false']],
    [['token', '-a', 'x', '--refreshMargin', '5m']],
    [['token', '--account=x', '--refresh-margin=5m']],
    [['env', '-m', 'qwen3-coder-plus', '--shell', 'fish']],
    [['exec', '-a', 'x', '--direct', '--', 'prog', '--help', '--frob', '-x', '--', 'more']],
    [['serve', '--api-key', 'k1', '--api-key=k2', '--verbose', '--port', '0']],
    [['logout', '--', '-odd-id']],
    [['use', 'x', '--json']],
    [['reset', '--all', '--json']],
    [['store', 'copy', '--from', 'a', '--to=b', '--json']],
    [['completion', 'fish']],
    [['help', 'store', 'copy']],
  ])('accepts %j', async (argv) => {
    await expect(check(argv)).resolves.toBeUndefined()
  })

  it('as a process: exit 2, one line on stderr, nothing on stdout (and the command did not run)', async () => {
    // An unknown option and a misplaced account: the in-process cases above cover the other messages.
    for (const argv of [['status', '--josn'], ['token', 'acct3@example.com']]) {
      const result = await runCli(argv, { home, input: 'sk-never-read-1234' })
      expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stdout).toBe('')
    }
  })
})

describe('help', () => {
  it('`help <command>` is `<command> --help`, sub-commands included; store copy shows --from and --to', async () => {
    // `--help` as a process: the entry point answers it, before any command runs. `help` is a
    // command like any other, run in-process.
    const viaFlag = await runCli(['store', 'copy', '--help'], { home })
    expect(viaFlag.code, viaFlag.stderr).toBe(0)
    const help = (argv: string[]) => runInProcess(['help', ...argv], { home })
    const viaHelp = await help(['store', 'copy'])
    expect(viaHelp.code, viaHelp.stderr).toBe(0)
    expect(viaHelp.stdout).toBe(viaFlag.stdout)
    expect(viaHelp.stdout).toContain('USAGE qwenauth store copy [OPTIONS] --from=<dir|url> --to=<dir|url>')
    expect(viaHelp.stdout).toMatch(/--to=<dir\|url>\s+Target store/)
    expect((await help([])).stdout).toBe(await renderHelp(await resolveCommand([]), { isTTY: false }))
    expect((await help(['exec'])).stdout).toContain('USAGE qwenauth exec [OPTIONS] -- <command> [args...]')
  })

  it("a sub-command's usage error points at that sub-command's help", async () => {
    const result = await runCli(['store', 'copy', '--from', home], { home })
    expect(result.code).toBe(2)
    expect(result.stderr.trim()).toBe('[error] missing --to (see `qwenauth store copy --help`)')
  })

  it('every command lists --storage (where it applies) and the environment variables it reads', async () => {
    const expected: Record<string, string[]> = {
      login: ['QWENAUTH_OAUTH_URL', 'QWENAUTH_NO_BROWSER'],
      status: [],
      use: [],
      logout: [],
      reset: [],
      token: ['QWENAUTH_OAUTH_URL', 'QWENAUTH_REFRESH_TIMEOUT_MS'],
      env: ['QWENAUTH_OAUTH_URL', 'QWEN_CODE_SYSTEM_SETTINGS_PATH'],
      exec: ['QWENAUTH_OAUTH_URL', 'QWEN_CODE_SYSTEM_SETTINGS_PATH', 'QWENAUTH_QUOTA_COOLDOWN_MS'],
      serve: ['QWENAUTH_API_KEYS', 'QWENAUTH_USER_AGENT', 'QWENAUTH_CONNECT_TIMEOUT_MS'],
      completion: [],
    }
    for (const [name, own] of Object.entries(expected)) {
      const help = await renderHelp(await resolveCommand([name]), { isTTY: false })
      expect(help, name).toMatch(/--storage=<dir\|url>\s+The store/)
      for (const variable of ['QWEN_HOME', 'QWENAUTH_STORAGE', 'QWENAUTH_DEBUG', 'NO_COLOR', ...own]) expect(help, `${name}: ${variable}`).toMatch(new RegExp(`^  ${variable}\\s`, 'm'))
    }
    const copy = await renderHelp(await resolveCommand(['store', 'copy']), { isTTY: false })
    expect(copy).not.toContain('--storage')
    expect(copy).toMatch(/^ {2}QWENAUTH_STORAGE_PREFIX\s/m)
    expect(await renderHelp(await resolveCommand([]), { isTTY: false })).toContain('Every command also takes --storage')
  })

  it('--storage on store copy is refused rather than ignored', async () => {
    const result = await runCli(['store', 'copy', '--from', home, '--to', `${home}/b`, '--storage', home], { home })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--storage does not apply to qwenauth store copy: it names its stores with --from and --to')
  })
})

describe('colour only on a terminal, never under NO_COLOR', () => {
  // cliEnv sets NO_COLOR and CI for every other test, and vitest sets TEST (which citty reads as
  // "no colour"); here they are unset, as for a user.
  const plain = { NO_COLOR: undefined, CI: undefined, TEST: undefined, VITEST: undefined, NODE_ENV: undefined, TERM: 'xterm-256color' }

  it('piped help and piped errors carry no escape codes', async () => {
    const help = await runCli(['--help'], { home, env: plain })
    expect(help.stdout).toContain('USAGE')
    expect(help.stdout).not.toContain('\x1b')
    const error = await runCli(['frobnicate'], { home, env: plain })
    expect(error.code).toBe(2)
    expect(error.stderr).toContain('frobnicate')
    expect(error.stderr).not.toContain('\x1b')
  })

  it('a terminal gets colours unless NO_COLOR is set (to any value)', async () => {
    const coloured = await runCliOnPty(['status', '--help'], { home, env: plain })
    expect(coloured.stdout).toContain('\x1b[')
    const noColor = await runCliOnPty(['status', '--help'], { home, env: { ...plain, NO_COLOR: 'true' } })
    expect(noColor.stdout).toContain('USAGE')
    expect(noColor.stdout).not.toContain('\x1b[')
    const error = await runCliOnPty(['status', '--josn'], { home, env: { ...plain, NO_COLOR: 'true' } })
    expect(error.code).toBe(2)
    expect(error.stdout).not.toContain('\x1b[')
  })
})
