import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { collect, type CliResult } from './cli.ts'

/** The real Claude Code CLI, pinned in package.json (a native binary; the npm wrapper links it). */
export const CLAUDE_BIN = resolve(import.meta.dirname, '../../node_modules/@anthropic-ai/claude-code/bin/claude.exe')

/** A private HOME, config directory and working directory for one run; `cleanup` removes them. */
export function claudeSandbox(): { home: string; config: string; work: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'qwenauth-claude-'))
  const dirs = { home: join(root, 'home'), config: join(root, 'cfg'), work: join(root, 'work') }
  for (const dir of Object.values(dirs)) mkdirSync(dir)
  return { ...dirs, cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

/**
 * What Claude Code needs to run offline and non-interactively: no outside traffic, no retries
 * (a failure ends the run in a second, not three minutes), no inherited proxy or Anthropic key.
 */
export function claudeEnv(sandbox: { home: string; config: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: sandbox.home,
    CLAUDE_CONFIG_DIR: sandbox.config,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
    NO_PROXY: '127.0.0.1,localhost',
    ...extra,
  }
}

/** `claude -p PROMPT … --output-format json`, stdin closed, bounded in time. */
export function runClaude(prompt: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs = 60_000): Promise<CliResult> {
  const child = spawn(CLAUDE_BIN, ['-p', prompt, '--output-format', 'json', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  return collect(child, undefined, timeoutMs)
}

/** The `result` object Claude Code prints with --output-format json. */
export function claudeResult(result: CliResult): { is_error: boolean; result: string; num_turns: number } {
  try {
    return JSON.parse(result.stdout) as { is_error: boolean; result: string; num_turns: number }
  } catch {
    throw new Error(`claude printed no JSON result (rc ${result.code}):\nstdout: ${result.stdout}\nstderr: ${result.stderr}`)
  }
}
