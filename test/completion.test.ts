import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest'
import { completionSpec } from '../src/completion/spec.ts'
import { createContext } from '../src/context.ts'
import type { Account } from '../src/store/account-model.ts'
import { cliEnv, tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'
import { completeInBash, completeInFish, completeInZsh, type Completer } from './helpers/shell-complete.ts'

const installed = (bin: string) => spawnSync(bin, ['--version']).status === 0

let home: string
let cleanup: () => void
let bin: string
let env: NodeJS.ProcessEnv
beforeAll(async () => {
  ;({ home, cleanup } = tempHome())
  // The scripts run `qwenauth completion --accounts` by the name that was typed.
  bin = mkdtempSync(join(tmpdir(), 'qwenauth-bin-'))
  symlinkSync(inject('binaryCli'), join(bin, 'qwenauth'))
  env = { ...cliEnv({ home }), PATH: `${bin}${delimiter}${process.env.PATH}`, HOME: home }
  const account = (id: string, label: string): Account => ({ id, label, kind: 'api-key', provider: 'custom', baseUrl: 'https://x/v1', apiKey: `sk-${id}-1234`, status: 'ok', createdAt: 0, updatedAt: 0 })
  await createContext({ QWEN_HOME: home }).accounts.update((doc) => void (doc.accounts = [account('openrouter-1a2b', 'work'), account('custom-9f3e', 'ada@example.com')]))
})
afterAll(() => {
  cleanup()
  rmSync(bin, { recursive: true, force: true })
})

const ACCOUNTS = ['ada@example.com', 'custom-9f3e', 'openrouter-1a2b', 'work']

/** Typed line → what Tab must offer (exactly, or at least these with `…`). */
const CASES: Array<[string, string[], 'exactly' | 'at least']> = [
  ['qwenauth st', ['status', 'store'], 'exactly'],
  ['qwenauth lo', ['login', 'logout'], 'exactly'],
  ['qwenauth env --sh', ['--shell'], 'exactly'],
  ['qwenauth env --shell ', ['bash', 'dotenv', 'fish', 'json', 'powershell', 'zsh'], 'exactly'],
  ['qwenauth use ', ACCOUNTS, 'exactly'],
  ['qwenauth token --account ', ACCOUNTS, 'exactly'],
  ['qwenauth logout open', ['openrouter-1a2b'], 'exactly'],
  ['qwenauth store ', ['copy'], 'exactly'],
  ['qwenauth store copy --', ['--from', '--json', '--to'], 'at least'],
  ['qwenauth reset --', ['--all', '--json', '--storage'], 'at least'],
  ['qwenauth help store ', ['copy'], 'exactly'],
  ['qwenauth completion ', ['bash', 'fish', 'zsh'], 'exactly'],
  ['qwenauth serve --strategy ', ['fill-first', 'round-robin'], 'exactly'],
  ['qwenauth login --no-b', ['--no-browser'], 'exactly'],
  ['qwenauth exec -- ech', ['echo'], 'at least'],
]

const SHELLS: Array<[string, Completer]> = [
  ['bash', completeInBash],
  ['zsh', completeInZsh],
  ['fish', completeInFish],
]

describe('qwenauth completion <shell>, loaded in that shell', () => {
  for (const [shell, complete] of SHELLS) {
    it.skipIf(!installed(shell))(`${shell}: commands, flags, their values and account ids`, async () => {
      // The script in-process; the shell runs the binary itself for the account ids (`bin` above).
      const script = await runInProcess(['completion', shell], { home })
      expect(script.code, script.stderr).toBe(0)
      const offered = complete(script.stdout, CASES.map(([line]) => line), env)
      CASES.forEach(([line, expected, how], i) => {
        if (how === 'exactly') expect(offered[i], `${shell}: "${line}"`).toEqual(expected)
        else expect(offered[i], `${shell}: "${line}"`).toEqual(expect.arrayContaining(expected))
      })
    })
  }

  it.skipIf(!installed('fish'))('every flag of every command is offered (the scripts come from the definitions)', async () => {
    const script = await runInProcess(['completion', 'fish'], { home })
    const specs = (await completionSpec()).filter((s) => s.path.length > 0 && s.subcommands.length === 0)
    const offered = completeInFish(script.stdout, specs.map((s) => `qwenauth ${s.path.join(' ')} -`), env)
    specs.forEach((spec, i) => {
      const names = spec.flags.flatMap((f) => f.names)
      expect(offered[i], spec.path.join(' ')).toEqual(expect.arrayContaining(names))
      for (const flag of ['--help', ...(spec.path[0] === 'store' || spec.path[0] === 'help' ? [] : ['--storage'])]) expect(names).toContain(flag)
    })
  })

  it('an unknown shell is a usage error', async () => {
    const result = await runInProcess(['completion', 'tcsh'], { home })
    expect(result.code).toBe(2)
    expect((result.error as Error).message).toContain('completion is for bash, zsh, fish, not "tcsh"')
  })
})
