/**
 * Where there is no execve (Windows), `serve` under Bun restarts itself as a child and waits for
 * it. A SIGTERM to the parent goes on to the child, which drains; the parent must wait for it,
 * not exit 1.5 s later through the interrupt handlers every command starts with.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { afterEach, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '..')
const bun = resolve(root, 'node_modules/.bin/bun')
let childPid: number | undefined
afterEach(() => {
  if (childPid) {
    try {
      process.kill(childPid, 'SIGKILL')
    } catch {}
  }
  childPid = undefined
})

it('the parent of a restarted serve waits for the child to finish draining after SIGTERM', async () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, DRAIN_MS: '2000' }
  const parent = spawn(bun, [resolve(root, 'test/fixtures/restart-without-execve.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  parent.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = once(parent, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25))
  const [, pid, limit] = out.trim().split(' ')
  childPid = Number(pid)
  expect(childPid).not.toBe(parent.pid)
  expect(Number(limit)).toBeGreaterThan(256)
  parent.kill('SIGTERM')
  const [code] = await exited
  // The child's exit, not the parent's own 143.
  expect(code).toBe(0)
}, 20_000)
