import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'pathe'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { programSpawner } from '../src/exec/spawn-program.ts'

const require = createRequire(import.meta.url)
const realPlatform = Object.getOwnPropertyDescriptor(process, 'platform')!

/**
 * cross-spawn's Windows logic, loaded as Windows would load it: it and `which`/`isexe` read
 * process.platform once, when first required, so they are required afresh under a stubbed one.
 */
function parseAsOnWindows(command: string, args: string[], env: NodeJS.ProcessEnv): { command: string; args: string[]; file?: string; options: { windowsVerbatimArguments?: boolean } } {
  forgetCrossSpawn()
  Object.defineProperty(process, 'platform', { ...realPlatform, value: 'win32' })
  // `which` reads PATHEXT from the process; lower case because this file system, unlike
  // Windows', tells qwen.CMD from qwen.cmd.
  const pathext = process.env.PATHEXT
  process.env.PATHEXT = '.com;.exe;.bat;.cmd'
  try {
    const parse = require('cross-spawn/lib/parse.js') as (c: string, a: string[], o: object) => ReturnType<typeof parseAsOnWindows>
    return parse(command, args, { env })
  } finally {
    if (pathext === undefined) delete process.env.PATHEXT
    else process.env.PATHEXT = pathext
    Object.defineProperty(process, 'platform', realPlatform)
    forgetCrossSpawn()
  }
}

function forgetCrossSpawn(): void {
  for (const id of Object.keys(require.cache)) if (/[\\/]node_modules[\\/](cross-spawn|which|isexe)[\\/]/.test(id)) delete require.cache[id]
}

afterEach(() => Object.defineProperty(process, 'platform', realPlatform))

describe('how exec starts the program', () => {
  it("uses the runtime's own spawn outside Windows", async () => {
    expect(await programSpawner('linux')).toBe(spawn)
    expect(await programSpawner('darwin')).toBe(spawn)
  })

  it('on Windows finds npm\'s qwen.cmd shim by PATHEXT and runs it through cmd.exe, each argument escaped', async () => {
    expect(await programSpawner('win32')).not.toBe(spawn)
    const bin = mkdtempSync(join(tmpdir(), 'qwenauth-win-'))
    onTestFinished(() => rmSync(bin, { recursive: true, force: true }))
    writeFileSync(join(bin, 'qwen.cmd'), '@ECHO off\r\nnode "%~dp0\\node_modules\\@qwen-code\\qwen-code\\cli.js" %*\r\n')
    chmodSync(join(bin, 'qwen.cmd'), 0o755)
    const parsed = parseAsOnWindows('qwen', ['-p', 'say "hi" & exit'], { PATH: bin })
    expect(parsed.file).toBe(join(bin, 'qwen.cmd'))
    expect(parsed.command).toMatch(/cmd\.exe$/i)
    expect(parsed.options.windowsVerbatimArguments).toBe(true)
    expect(parsed.args.slice(0, 3)).toEqual(['/d', '/s', '/c'])
    // The whole line is quoted once for /s; & and the quotes inside the prompt are escaped for
    // cmd.exe, so they reach qwen as text instead of starting a second command.
    expect(parsed.args[3]).toBe('"qwen ^"-p^" ^"say^ \\^"hi\\^"^ ^&^ exit^""')
  })
})
