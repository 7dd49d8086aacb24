import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inject } from 'vitest'

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  home: string
  env?: Record<string, string | undefined>
  input?: string
  timeoutMs?: number
  /** 'node' (the npm bundle, default) or 'binary' (bun --compile). */
  runtime?: 'node' | 'binary'
  /** Working directory (default: the test's), for commands that could write relative paths. */
  cwd?: string
  /** The process's limit of open descriptors (soft and hard, so no runtime raises it), set by prlimit(1). */
  fdLimit?: number
  /** Started by nohup(1): SIGHUP ignored from the start, as after `nohup qwenauth …`. */
  nohup?: boolean
}

/** A private QWEN_HOME for one test. */
export function tempHome(): { home: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'qwenauth-home-'))
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) }
}

/** The environment a spawned CLI sees: no inherited Qwen settings, no browser, no colours. */
export function cliEnv(options: Pick<CliOptions, 'home' | 'env'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, QWEN_HOME: options.home, QWENAUTH_NO_BROWSER: '1', NO_COLOR: '1', CI: '1' }
  for (const key of Object.keys(env)) if (key.startsWith('OPENAI_')) delete env[key]
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

export function spawnCli(args: string[], options: CliOptions): ChildProcess {
  const runtime = options.runtime ?? 'node'
  const [program, programArgs] = runtime === 'binary' ? [inject('binaryCli'), []] : [process.execPath, [inject('nodeCli')]]
  const wrappers = [...(options.fdLimit ? ['prlimit', `--nofile=${options.fdLimit}:${options.fdLimit}`, '--'] : []), ...(options.nohup ? ['nohup'] : [])]
  const [command = program, ...prefix] = [...wrappers, program, ...programArgs]
  return spawn(command, [...prefix, ...args], { env: cliEnv(options), stdio: ['pipe', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) })
}

/** Runs the CLI to completion (bounded by timeoutMs, default 15 s, then SIGKILL). */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  const child = spawnCli(args, options)
  return collect(child, options.input, options.timeoutMs ?? 15_000)
}

export function collect(child: ChildProcess, input: string | undefined, timeoutMs: number): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  if (input !== undefined) child.stdin?.end(input)
  else child.stdin?.end()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`CLI timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}
