import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runOAuthLogin } from '../../src/auth/oauth/login.ts'
import { createContext } from '../../src/context.ts'
import type { Account } from '../../src/store/account-model.ts'
import type { Emulator } from '../fixtures/qwen-emulator.ts'
import type { CliResult } from './cli.ts'
import { inProcess, succeeded, type InProcessResult } from './in-process.ts'

/**
 * A Qwen OAuth login in this process, as `qwenauth login` does it (the device flow, the served
 * check, the new account active), into the store the environment names; its connection closed.
 * The emulator must auto-approve (or the test approve).
 */
function oauthLogin(home: string, emu: Emulator, extraEnv: Record<string, string>): Promise<InProcessResult<Account>> {
  return inProcess({ home, env: { QWENAUTH_OAUTH_URL: emu.url, ...extraEnv } }, async () => {
    const ctx = createContext()
    try {
      return await runOAuthLogin(ctx, { browser: false })
    } finally {
      await ctx.close()
    }
  })
}

export async function loginInProcess(home: string, emu: Emulator, extraEnv: Record<string, string> = {}): Promise<Account> {
  return succeeded(await oauthLogin(home, emu, extraEnv))
}

/** The same login, reported as a CLI run would be (what tests that only set up an account get). */
export async function loginViaEmulator(home: string, emu: Emulator, extraEnv: Record<string, string> = {}): Promise<CliResult> {
  const result = await oauthLogin(home, emu, extraEnv)
  if (result.code !== 0) throw new Error(`login failed (${result.code}): ${String(result.error)}\n${result.stderr}`)
  return { code: 0, signal: null, stdout: result.stdout, stderr: result.stderr }
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
