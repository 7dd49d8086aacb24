#!/usr/bin/env node
import { runCommand } from 'citty'
import { checkArguments } from './commands/_check-args.ts'
import { extrasOf } from './commands/_extras.ts'
import { commandLine, resolveCommand, root, type ResolvedCommand } from './commands/_tree.ts'
import { renderHelp } from './commands/_usage.ts'
import { stripAnsi } from './lib/color.ts'
import { describeFsError, errorJson, ExitCode, QwenauthError, usageError } from './lib/errors.ts'
import { installInterruptHandlers } from './lib/interrupt.ts'
import { finishUnfinishedWork } from './lib/unfinished-work.ts'
import { logger } from './lib/logger.ts'
import { redact } from './lib/redact.ts'
import { checkStorageSpec } from './lib/storage-spec.ts'
import { VERSION } from './lib/version.ts'

/**
 * `--storage <dir|redis://…>` may stand anywhere before `--`, for every command; it is the
 * same as QWENAUTH_STORAGE, so the commands themselves need not know it. It is checked here,
 * before any command runs: a missing or mistyped value must not fall back to another store.
 */
function takeStorageFlag(rawArgs: string[]): { args: string[]; given: boolean } {
  const end = rawArgs.includes('--') ? rawArgs.indexOf('--') : rawArgs.length
  const args: string[] = []
  let given = false
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? ''
    if (i < end && arg.startsWith('--storage=')) process.env.QWENAUTH_STORAGE = checkStorageSpec(arg.slice('--storage='.length), '--storage')
    else if (i < end && arg === '--storage') {
      const next = i + 1 < end ? rawArgs[i + 1] : undefined
      const value = next !== undefined && !(next.startsWith('-') && next.length > 1) ? rawArgs[++i] : undefined
      process.env.QWENAUTH_STORAGE = checkStorageSpec(value, '--storage')
    } else {
      args.push(arg)
      continue
    }
    given = true
  }
  return { args, given }
}

/** The command that was asked for, once known: usage errors point at its help. */
let target: ResolvedCommand | undefined

async function run(argv: string[]): Promise<void> {
  const { args: rawArgs, given: storageGiven } = takeStorageFlag(argv)
  if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
    process.stdout.write(`${VERSION}\n`)
    return
  }
  target = await resolveCommand(rawArgs)
  const dashDash = rawArgs.indexOf('--')
  const flags = dashDash === -1 ? rawArgs : rawArgs.slice(0, dashDash)
  if (rawArgs.length === 0 || flags.includes('--help') || flags.includes('-h')) {
    process.stdout.write(await renderHelp(target))
    return
  }
  if (target.command.subCommands) {
    throw usageError(`${commandLine(target.path)} needs a command (see \`${commandLine(target.path)} --help\`)`)
  }
  const ignoresStorage = extrasOf(target.command).ignoresStorage
  if (storageGiven && ignoresStorage) throw usageError(`--storage does not apply to ${commandLine(target.path)}: ${ignoresStorage}`)
  await checkArguments(target)
  installInterruptHandlers()
  await runCommand(root, { rawArgs })
}

/** `--json` before any `--`: the caller reads stdout, so a failure is told there too. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--json' || a === '--json=true')
}

/** The failure's lines (stderr, and stdout with `--json`); returns its exit code. */
function report(message: string, exitCode: number, hint?: string): number {
  logger.error(message)
  if (hint) logger.info(hint)
  if (wantsJson(process.argv.slice(2))) process.stdout.write(`${errorJson(message, exitCode, hint)}\n`)
  return exitCode
}

function reportError(error: unknown): number {
  if (error instanceof QwenauthError) return report(redact(error.message), error.exitCode, error.hint)
  const message = describeFsError(error) ?? (error instanceof Error ? error.message : String(error))
  // citty's own usage errors, should one get past the checks above.
  if ((error as Error)?.name === 'CLIError') return report(`${stripAnsi(message)} (see \`${commandLine(target?.path ?? [])} --help\`)`, ExitCode.usage)
  if (process.env.QWENAUTH_DEBUG && error instanceof Error && error.stack) logger.debug(redact(error.stack))
  return report(redact(message), ExitCode.failure)
}

/**
 * Exits, once the work an exit must not cut is done: a token refresh the OAuth server may
 * already have acted on (a Ctrl-C during `token`) is stored first, within the refresh timeout.
 */
async function exit(code: number): Promise<never> {
  process.exitCode = code
  await finishUnfinishedWork()
  process.exit(code)
}

run(process.argv.slice(2)).then(
  () => exit(Number(process.exitCode ?? 0)),
  (error: unknown) => exit(reportError(error)),
)
