import { basename } from 'pathe'

/** Package runners that start a package's program: `npx @openai/codex …`, `bunx opencode-ai …`. */
const RUNNERS = new Set(['npx', 'pnpx', 'bunx'])
/** Runner options that take a value, so the value is not the package. */
const RUNNER_VALUE_OPTIONS = new Set(['-p', '--package', '-c', '--call', '--prefix', '--cache', '--registry', '--userconfig'])

/** A coding agent `exec` adapts: its program's name and its npm package. */
export interface AgentProgram {
  bin: string
  pkg: string
}

/**
 * Where the agent's own arguments start in the program's arguments, when the program is that
 * agent: its program itself (any path, `.cmd`/`.exe` included) or its package run by a package
 * runner (`npx [-y] <pkg>[@version]`, `npx -p <pkg> <bin>`). Undefined for any other program,
 * which `exec` then leaves exactly as it was given.
 */
export function agentArgsStart(agent: AgentProgram, command: string, args: readonly string[]): number | undefined {
  const name = basename(command.replace(/\\/g, '/')).replace(/\.(cmd|bat|exe|ps1|js|mjs)$/i, '').toLowerCase()
  if (name === agent.bin) return 0
  if (!RUNNERS.has(name)) return undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (RUNNER_VALUE_OPTIONS.has(arg)) {
      i++
      continue
    }
    if (arg.startsWith('-')) continue
    return arg === agent.pkg || arg.startsWith(`${agent.pkg}@`) || arg === agent.bin ? i + 1 : undefined
  }
  return undefined
}
