import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runOAuthLogin } from '../../src/auth/oauth/login.ts'
import { createContext } from '../../src/context.ts'
import type { Account } from '../../src/store/account-model.ts'
import type { Emulator } from '../fixtures/qwen-emulator.ts'
import { runCli, type CliResult } from './cli.ts'
import { inProcess, succeeded } from './in-process.ts'

/** Logs in through the emulator (which must auto-approve or be approved by the test). */
export async function loginViaEmulator(home: string, emu: Emulator, extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const result = await runCli(['login'], { home, env: { QWENAUTH_OAUTH_URL: emu.url, ...extraEnv } })
  if (result.code !== 0) throw new Error(`login failed (${result.code}): ${result.stderr}`)
  return result
}

/**
 * A Qwen OAuth login in this process, as `qwenauth login` does it (the device flow, the served
 * check, the new account active), into the store the environment names; its connection closed.
 */
export async function loginInProcess(home: string, emu: Emulator, extraEnv: Record<string, string> = {}): Promise<Account> {
  const login = async () => {
    const ctx = createContext()
    try {
      return await runOAuthLogin(ctx, { browser: false })
    } finally {
      await ctx.close()
    }
  }
  return succeeded(await inProcess({ home, env: { QWENAUTH_OAUTH_URL: emu.url, ...extraEnv } }, login))
}

export function readJsonFile<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

export const credsPath = (home: string) => join(home, 'oauth_creds.json')
export const accountsPath = (home: string) => join(home, 'qwenauth', 'accounts.json')

/** Makes the stored access token look expired, in both files, as six hours passing would. */
export function expireStoredTokens(home: string, at = Date.now() - 60_000): void {
  const doc = readJsonFile(accountsPath(home))
  for (const account of doc.accounts) if (account.kind === 'qwen-oauth') account.expiresAt = at
  writeFileSync(accountsPath(home), JSON.stringify(doc, null, 2))
  try {
    const creds = readJsonFile(credsPath(home))
    creds.expiry_date = at
    writeFileSync(credsPath(home), JSON.stringify(creds, null, 2))
  } catch {}
}
