import { Readable } from 'node:stream'
import { runCommand } from 'citty'
import { vi } from 'vitest'
import { checkArguments } from '../../src/commands/_check-args.ts'
import { resolveCommand, root } from '../../src/commands/_tree.ts'
import { QwenauthError } from '../../src/lib/errors.ts'
import { cliEnv } from './cli.ts'

/**
 * Commands run in the test's own process: no process to start, so a case costs milliseconds
 * instead of a Node start. What needs a process (exit codes and the one-line error mapping of
 * src/cli.ts, signals, terminals, locks across processes, the shipped builds) uses helpers/cli.ts.
 */
export interface InProcessOptions {
  /** QWEN_HOME for the call. */
  home: string
  /** On top of what a spawned CLI gets (helpers/cli.ts `cliEnv`); undefined removes a variable. */
  env?: Record<string, string | undefined>
  /** What stdin holds, piped (not a terminal); empty by default. */
  input?: string
}

export interface InProcessResult<T> {
  value: T | undefined
  /** What the call threw, if it did. */
  error: unknown
  /** 0 (or the code the command set, as `exec` does), the exit code a QwenauthError carries, or 1 for any other error. */
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs `work` with the environment a spawned CLI would see (the real one is restored after),
 * stdin replaced by `input`, and everything written to stdout and stderr captured.
 */
export async function inProcess<T>(options: InProcessOptions, work: () => Promise<T>): Promise<InProcessResult<T>> {
  const savedEnv = { ...process.env }
  const savedExitCode = process.exitCode
  // In place, not a new object: os.homedir() and child processes read the real environment.
  replaceEnv(cliEnv(options))
  let stdout = ''
  let stderr = ''
  const capture = (append: (text: string) => void) => (chunk: string | Uint8Array, ...rest: unknown[]) => {
    append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined
    done?.()
    return true
  }
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture((t) => (stdout += t)) as typeof process.stdout.write),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture((t) => (stderr += t)) as typeof process.stderr.write),
    vi.spyOn(process, 'stdin', 'get').mockReturnValue(Readable.from(options.input ? [options.input] : []) as unknown as typeof process.stdin),
  ]
  try {
    process.exitCode = undefined
    const value = await work()
    return { value, error: undefined, code: Number(process.exitCode ?? 0), stdout, stderr }
  } catch (error) {
    return { value: undefined, error, code: error instanceof QwenauthError ? error.exitCode : 1, stdout, stderr }
  } finally {
    for (const spy of spies) spy.mockRestore()
    replaceEnv(savedEnv)
    // `exec` sets the code to end with; the test's process must not end with it.
    process.exitCode = savedExitCode
  }
}

function replaceEnv(next: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in next)) delete process.env[key]
  Object.assign(process.env, next)
}

/**
 * `qwenauth <argv>` in this process: the command the words name, its arguments checked, then run
 * by citty as src/cli.ts does (without `--storage`, `--help` and the mapping of errors to exit
 * codes and lines, which the process tests cover).
 */
export function runInProcess(argv: string[], options: InProcessOptions): Promise<InProcessResult<void>> {
  return inProcess(options, async () => {
    await checkArguments(await resolveCommand(argv))
    await runCommand(root, { rawArgs: argv })
  })
}

/** The value of an in-process call that must succeed; otherwise the error, with what it wrote. */
export function succeeded<T>(result: InProcessResult<T>): T {
  if (result.error !== undefined) {
    const message = result.error instanceof Error ? result.error.message : String(result.error)
    throw new Error(`expected success, got exit ${result.code}: ${message}\nstderr: ${result.stderr}`)
  }
  return result.value as T
}
