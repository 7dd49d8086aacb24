import { spawn } from 'node:child_process'

export type Spawn = typeof spawn

/**
 * How the user's program is started. On Windows, npm installs `qwen` (and most Node CLIs) as a
 * `qwen.cmd` shim: CreateProcess does not look up PATHEXT names and runs .cmd/.bat files only
 * through cmd.exe, whose quoting differs from every other program's. cross-spawn finds the
 * shim, runs it through cmd.exe with each argument escaped for it, and reports a missing
 * command as ENOENT. Everywhere else the runtime's spawn is right as it is, and cross-spawn
 * is never loaded.
 */
export async function programSpawner(platform: NodeJS.Platform = process.platform): Promise<Spawn> {
  if (platform !== 'win32') return spawn
  const { default: crossSpawn } = await import('cross-spawn')
  return crossSpawn as unknown as Spawn
}
