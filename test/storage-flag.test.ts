import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createContext } from '../src/context.ts'
import { runStoreCopy } from '../src/commands/store.ts'
import { runCli, tempHome } from './helpers/cli.ts'

let home: string
let cwd: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
  cwd = mkdtempSync(join(tmpdir(), 'qwenauth-cwd-'))
})
afterEach(() => {
  cleanup()
  rmSync(cwd, { recursive: true, force: true })
})

const KEY = 'sk-storage-check-1234'
const addKey = ['login', '--provider', 'openrouter', '--no-verify']

describe('--storage, QWENAUTH_STORAGE and store copy take a directory or a redis URL, nothing else', () => {
  it.each([
    [['--storage', 'rediss//host:6379'], /--storage rediss\/\/host:6379 looks like a mistyped URL/],
    [['--storage=redis:/host'], /--storage redis:\/host looks like a mistyped URL/],
    [['--storage', 'foo://user:secret@x'], /--storage foo:\/\/…@x: unknown scheme foo:\/\//],
    [['--storage'], /--storage needs a value/],
    [['--storage', '--no-verify'], /--storage needs a value/],
    [['--storage='], /--storage needs a value/],
  ])('%j: exit 2, one line, nothing written anywhere', async (flag, message) => {
    const result = await runCli([...addKey, ...flag], { home, cwd, input: KEY })
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).not.toContain('secret')
    expect(readdirSync(cwd)).toEqual([])
    expect(readdirSync(home)).toEqual([])
  })

  it('QWENAUTH_STORAGE is checked the same way', async () => {
    const result = await runCli(addKey, { home, cwd, input: KEY, env: { QWENAUTH_STORAGE: 'rediss//host:6379' } })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/QWENAUTH_STORAGE rediss\/\/host:6379 looks like a mistyped URL/)
    expect(readdirSync(cwd)).toEqual([])
    expect(() => createContext({ QWENAUTH_STORAGE: 'http://x' })).toThrow(/QWENAUTH_STORAGE http:\/\/x: unknown scheme http:\/\//)
  })

  it('store copy checks --from and --to before reading or writing either', async () => {
    await expect(runStoreCopy({ from: home, to: 'rediss//host:6379' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--to rediss/) })
    await expect(runStoreCopy({ from: 'foo://x', to: home })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--from foo:\/\/x: unknown scheme/) })
  })

  it('a Redis that cannot be reached is one line and exit 4', async () => {
    const result = await runCli(['status'], { home, env: { QWENAUTH_STORAGE: 'redis://127.0.0.1:1/0' } })
    expect(result.code).toBe(4)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/)
  })

  it('a directory (relative, absolute, a Windows drive path) and redis URLs are accepted', async () => {
    const result = await runCli([...addKey, '--storage', 'store dir'], { home, cwd, input: KEY })
    expect(result.code, result.stderr).toBe(0)
    expect(readdirSync(join(cwd, 'store dir'))).toContain('qwenauth')
    expect(createContext({}, 'C:\\Users\\me\\.qwen').home).toContain('Users')
    const redis = createContext({ QWENAUTH_STORAGE: 'rediss://h:1/0' })
    expect(redis.redis).toBeDefined()
    await redis.close()
  })
})
