import { basename } from 'pathe'

/** What `exec` starts: the program's arguments and the variables added to its environment. */
export interface Launch {
  args: string[]
  env: Record<string, string>
  /** Removes what was written for this run, once the program has exited. */
  cleanup?: () => Promise<void>
}

/** A program `exec` gives flags of its own: its command name and its npm package. */
export interface KnownProgram {
  /** `codex`, `claude`: the command, at any path, `.cmd`/`.exe` and the like included. */
  name: string
  /** The npm package a runner starts it from (`@openai/codex`), with or without `@version`. */
  packageName: string
}

/**
 * Package runners that start a package's program, and the sub-command they need first:
 * `npx @openai/codex …`, `npm exec …`, `pnpm dlx …`, `yarn dlx …`.
 */
const RUNNERS: Record<string, readonly string[] | undefined> = {
  npx: undefined,
  pnpx: undefined,
  bunx: undefined,
  npm: ['exec', 'x'],
  pnpm: ['dlx', 'exec'],
  yarn: ['dlx', 'exec'],
}
/** Runner options that take a value, so the value is not the package. */
const RUNNER_VALUE_OPTIONS = new Set(['-p', '--package', '-c', '--call', '--prefix', '--cache', '--registry', '--userconfig'])

/**
 * Where the program's own arguments start in `args`, when `command` is that program: the
 * command itself (any path, `.cmd`/`.exe` included), or run by a package runner
 * (`npx [-y] <package>[@version]`, `npx -p <package> <name>`, `npm exec <package> -- …`,
 * `npm exec --package=<package> -- <name>`, `pnpm dlx`/`yarn dlx <package>`, `pnpm exec <name>`).
 * Undefined for any other program, which `exec` then leaves exactly as it was given.
 */
export function programArgsStart(program: KnownProgram, command: string, args: readonly string[]): number | undefined {
  const name = basename(command.replace(/\\/g, '/')).replace(/\.(cmd|bat|exe|ps1|js|mjs)$/i, '').toLowerCase()
  if (name === program.name) return 0
  if (!Object.hasOwn(RUNNERS, name)) return undefined
  const subcommands = RUNNERS[name]
  if (subcommands && !subcommands.includes(args[0] ?? '')) return undefined
  const isPackage = (arg: string) => arg === program.packageName || (arg.startsWith(`${program.packageName}@`) && !arg.slice(program.packageName.length + 1).includes('/'))
  for (let i = subcommands ? 1 : 0; i < args.length; i++) {
    const arg = args[i] as string
    // `npm exec --package=<p> -- <name> …`: the runner's own options end at `--`.
    if (arg === '--') continue
    if (RUNNER_VALUE_OPTIONS.has(arg)) {
      i++
      continue
    }
    if (arg.startsWith('-')) continue
    if (!isPackage(arg) && arg !== program.name) return undefined
    // `npm exec <package> -- <its arguments>`: they start after the `--`.
    return args[i + 1] === '--' ? i + 2 : i + 1
  }
  return undefined
}
