#!/usr/bin/env node
import { defineCommand, runCommand, showUsage, type CommandDef } from 'citty'
import { helpDetails } from './commands/_help.ts'
import { describeFsError, ExitCode, QwenauthError } from './lib/errors.ts'
import { installInterruptHandlers } from './lib/interrupt.ts'
import { logger } from './lib/logger.ts'
import { redact } from './lib/redact.ts'
import { VERSION } from './lib/version.ts'

// Sub-commands load on demand so `--version`, `--help` and `token` start fast.
const main = defineCommand({
  meta: { name: 'qwenauth', version: VERSION, description: 'Qwen credentials for any program: device-flow login, an account pool, env, exec and an OpenAI-compatible proxy' },
  subCommands: {
    login: () => import('./commands/login.ts').then((m) => m.default),
    status: () => import('./commands/status.ts').then((m) => m.default),
    use: () => import('./commands/use.ts').then((m) => m.default),
    edit: () => import('./commands/edit.ts').then((m) => m.default),
    logout: () => import('./commands/logout.ts').then((m) => m.default),
    token: () => import('./commands/token.ts').then((m) => m.default),
    env: () => import('./commands/env.ts').then((m) => m.default),
    exec: () => import('./commands/exec.ts').then((m) => m.default),
    serve: () => import('./commands/serve.ts').then((m) => m.default),
    store: () => import('./commands/store.ts').then((m) => m.default),
  },
})

async function resolveCommand(rawArgs: string[]): Promise<[CommandDef, CommandDef | undefined]> {
  const name = rawArgs.find((a) => !a.startsWith('-'))
  const subs = (await (typeof main.subCommands === 'function' ? main.subCommands() : main.subCommands)) ?? {}
  const sub = name ? subs[name] : undefined
  if (!sub) return [main, undefined]
  const resolved = await (typeof sub === 'function' ? sub() : sub)
  return [resolved as CommandDef, main]
}

/**
 * `--storage <dir|redis://…>` may stand anywhere before `--`, for every command; it is the
 * same as QWENAUTH_STORAGE, so the commands themselves need not know it.
 */
function takeStorageFlag(rawArgs: string[]): string[] {
  const end = rawArgs.includes('--') ? rawArgs.indexOf('--') : rawArgs.length
  const out: string[] = []
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? ''
    if (i < end && arg.startsWith('--storage=')) process.env.QWENAUTH_STORAGE = arg.slice('--storage='.length)
    else if (i < end && arg === '--storage' && i + 1 < end) process.env.QWENAUTH_STORAGE = rawArgs[++i]
    else out.push(arg)
  }
  return out
}

async function run(argv: string[]): Promise<void> {
  const rawArgs = takeStorageFlag(argv)
  if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
    process.stdout.write(`${VERSION}\n`)
    return
  }
  const dashDash = rawArgs.indexOf('--')
  const flags = dashDash === -1 ? rawArgs : rawArgs.slice(0, dashDash)
  if (rawArgs.length === 0 || flags.includes('--help') || flags.includes('-h')) {
    const [cmd, parent] = await resolveCommand(flags)
    await showUsage(cmd, parent)
    const details = helpDetails(cmd)
    if (details) process.stdout.write(`${details}\n`)
    return
  }
  installInterruptHandlers()
  await runCommand(main, { rawArgs })
}

run(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    if (error instanceof QwenauthError) {
      logger.error(redact(error.message))
      if (error.hint) logger.info(error.hint)
      process.exit(error.exitCode)
    }
    const message = describeFsError(error) ?? (error instanceof Error ? error.message : String(error))
    // citty's own usage errors (unknown command, missing argument).
    if ((error as Error)?.name === 'CLIError') {
      logger.error(`${message} (see \`qwenauth --help\`)`)
      process.exit(ExitCode.usage)
    }
    logger.error(redact(message))
    if (process.env.QWENAUTH_DEBUG && error instanceof Error && error.stack) logger.debug(redact(error.stack))
    process.exit(ExitCode.failure)
  },
)
