/**
 * SIGTERM (or a Ctrl-C) that reaches `qwenauth exec` while it is still preparing the program's
 * launch (the private proxy, the settings layers, Claude Code's --settings file): qwenauth must
 * either not start the program at all, or stay for it and clean up. What it must not do is start
 * the program anyway and then exit under it 1.5 s later (the interrupt handler's timer), leaving
 * the program orphaned and the settings file holding the one-time key in TMPDIR.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { collect, spawnCli } from './helpers/cli.ts'
import { loginAs, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture | undefined
let root: string | undefined
const pids: number[] = []
afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  await fx?.cleanup()
  fx = undefined
  if (root) rmSync(root, { recursive: true, force: true })
  root = undefined
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

it('SIGTERM while exec prepares the launch neither orphans the program nor leaves the key file behind', async () => {
  fx = await proxyFixture()
  await loginAs(fx, 'sig@example.com')
  root = mkdtempSync(join(tmpdir(), 'qwenauth-sig-'))
  const bin = join(root, 'bin')
  const tmp = join(root, 'tmp')
  mkdirSync(bin)
  mkdirSync(tmp)
  // A stand-in named claude: notes its pid, then runs for a while (a real session would).
  const pidFile = join(root, 'claude.pid')
  const script = join(root, 'claude.mjs')
  writeFileSync(script, `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(pidFile)}, String(process.pid))\nsetTimeout(() => {}, 6000)\n`)
  writeFileSync(join(bin, 'claude'), `#!/bin/sh\nexec '${process.execPath}' '${script}' "$@"\n`)
  chmodSync(join(bin, 'claude'), 0o755)
  // The qwen settings layer reads this first: a FIFO holds exec there until the test writes it.
  const fifo = join(root, 'system-settings.json')
  execFileSync('mkfifo', [fifo])

  const child = spawnCli(['exec', '--', join(bin, 'claude'), '-p', 'hi'], { home: fx.home, env: { QWENAUTH_OAUTH_URL: fx.emu.url, TMPDIR: tmp, QWEN_CODE_SYSTEM_SETTINGS_PATH: fifo } })
  const result = collect(child, undefined, 20_000)
  // Opening the FIFO for writing returns once exec has opened it for reading.
  const writer = await open(fifo, 'w')
  child.kill('SIGTERM')
  // Let the signal be handled before exec may go on.
  await new Promise((resolve) => setTimeout(resolve, 200))
  await writer.write('{}')
  await writer.close()
  const run = await result
  if (existsSync(pidFile)) pids.push(Number(readFileSync(pidFile, 'utf8')))

  // Either the program never started, or qwenauth waited for it.
  const program = pids[0]
  const leftover = readdirSync(tmp)
  if (program !== undefined) expect.soft(alive(program), 'the program outlived qwenauth exec').toBe(false)
  expect(leftover, 'files written for the run left in TMPDIR').toEqual([])
  expect(run.code).not.toBe(0)
}, 30_000)
