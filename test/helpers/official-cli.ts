import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliEnv, collect, type CliResult } from './cli.ts'
import { execFixture, repoRoot } from './exec-fixtures.ts'

/** The official CLI (@qwen-code/qwen-code 0.24.4), installed as a devDependency. */
const BUNDLE_CHUNKS = join(repoRoot, 'node_modules/@qwen-code/qwen-code/chunks')

/** The bundle's chunk names are hashes: the one whose source has `what` (a definition). */
export function officialChunk(what: string): string {
  const found = readdirSync(BUNDLE_CHUNKS).find((name) => readFileSync(join(BUNDLE_CHUNKS, name), 'utf8').includes(what))
  if (!found) throw new Error(`no chunk of the official CLI has "${what}" under ${BUNDLE_CHUNKS}`)
  return join(BUNDLE_CHUNKS, found)
}

export interface OfficialRun {
  /** QWEN_HOME shared with qwenauth. */
  home: string
  /** HOME of the process (a scratch directory). */
  userHome: string
  emulatorUrl: string
  /** The chunk that defines SharedTokenManager (officialChunk). */
  chunk: string
  /** The net guard's log: any attempt to leave the machine lands here. */
  netLog: string
  /** Epoch ms to start at, so several processes line up. */
  startAt?: number
  /** Called once the official code's lock try has found oauth_creds.lock held (it waits then). */
  onLockHeld?: () => void
}

export interface OfficialResult extends CliResult {
  token: string | undefined
  refreshToken: string | undefined
}

/** One process running the official `getValidCredentials`, as `qwen` does before each request. */
export async function runOfficialTokenManager(run: OfficialRun): Promise<OfficialResult> {
  const env = cliEnv({
    home: run.home,
    env: {
      HOME: run.userHome,
      QWEN_EMULATOR_URL: run.emulatorUrl,
      QWEN_TOKEN_MANAGER_CHUNK: run.chunk,
      NODE_OPTIONS: `--require=${execFixture('net-guard.cjs')}`,
      NET_GUARD_LOG: run.netLog,
      ...(run.startAt ? { START_AT: String(run.startAt) } : {}),
    },
  })
  const child = spawn(process.execPath, [join(repoRoot, 'test/fixtures/official-token-manager.mjs')], { env, stdio: 'pipe' })
  const done = collect(child, undefined, 30_000)
  if (run.onLockHeld) {
    const onLockHeld = run.onLockHeld
    let stderr = ''
    const watch = (d: string) => {
      stderr += d
      if (!stderr.includes('found oauth_creds.lock held')) return
      child.stderr?.off('data', watch)
      onLockHeld()
    }
    child.stderr?.on('data', watch)
  }
  const result = await done
  const parsed = result.code === 0 ? (JSON.parse(result.stdout) as { access_token: string; refresh_token: string }) : undefined
  return { ...result, token: parsed?.access_token, refreshToken: parsed?.refresh_token }
}
