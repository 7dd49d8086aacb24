import type { ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import { createContext } from '../../src/context.ts'
import type { Account } from '../../src/store/account-model.ts'
import { startEmulator, type Emulator, type EmulatorOptions } from '../fixtures/qwen-emulator.ts'
import { loginInProcess } from './accounts.ts'
import { tempHome } from './cli.ts'

export const repoRoot = resolve(import.meta.dirname, '../..')
export const execFixture = (name: string) => resolve(repoRoot, 'test/fixtures/exec', name)

/** An emulator and a QWEN_HOME with one account logged in (`qwenauth login`, in this process). */
export interface LoggedIn {
  emu: Emulator
  home: string
  /** What every CLI run of the test needs on top of cliEnv. */
  env: Record<string, string>
  account: () => Promise<Account>
  cleanup(): Promise<void>
}

export async function loggedIn(options: EmulatorOptions = {}): Promise<LoggedIn> {
  const emu = await startEmulator({ autoApprove: true, interval: 0.05, ...options })
  const { home, cleanup } = tempHome()
  const env = { QWENAUTH_OAUTH_URL: emu.url }
  await loginInProcess(home, emu)
  const ctx = createContext({ QWEN_HOME: home, QWENAUTH_OAUTH_URL: emu.url })
  return {
    emu,
    home,
    env,
    account: async () => {
      const first = (await ctx.accounts.read()).accounts[0]
      if (!first) throw new Error('no account after login')
      return first
    },
    async cleanup() {
      await emu.close()
      cleanup()
    },
  }
}

/** Resolves once `text` has appeared on the child's stdout (which the caller also collects). */
export function waitForStdout(child: ChildProcess, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`no "${text}" on stdout within ${timeoutMs} ms; got: ${seen}`)), timeoutMs)
    child.stdout?.on('data', (chunk: Buffer | string) => {
      seen += chunk.toString()
      if (seen.includes(text)) {
        clearTimeout(timer)
        resolvePromise()
      }
    })
  })
}
