import { spawnSync } from 'node:child_process'

let resolved: string | undefined

/**
 * The python3 interpreter itself, for the pseudo-terminal relays (Node has no pty). `python3` on
 * PATH may be a version manager's shim (pyenv's is a shell script that starts pyenv: some 0.3 s
 * of CPU per call, more than the relay and the CLI it runs together); asked once, the
 * interpreter's own path starts in milliseconds. `python3` itself when it cannot say.
 */
export function python3(): string {
  if (resolved === undefined) {
    const asked = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', timeout: 10_000 })
    resolved = (asked.status === 0 && asked.stdout.trim()) || 'python3'
  }
  return resolved
}
