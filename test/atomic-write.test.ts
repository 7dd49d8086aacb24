import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tempHome } from './helpers/cli.ts'

let home: string
let cleanup: () => void
beforeEach(() => {
  ;({ home, cleanup } = tempHome())
})
afterEach(() => cleanup())

describe('atomic writes', () => {
  it('a reader never sees half a file, even when the writer is SIGKILLed mid-write', async () => {
    const target = join(home, 'big.json')
    const bun = resolve('node_modules/.bin/bun')
    for (let round = 0; round < 5; round++) {
      const writer = spawn(bun, ['test/fixtures/atomic-writer.ts', target, '5000'], { stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise<void>((r) => writer.stdout!.once('data', () => r()))
      const deadline = Date.now() + 150 + round * 60
      let reads = 0
      while (Date.now() < deadline) {
        if (!existsSync(target)) continue
        const doc = JSON.parse(readFileSync(target, 'utf8'))
        expect(['a', 'b']).toContain(doc.fill)
        reads++
      }
      writer.kill('SIGKILL')
      await new Promise((r) => writer.once('close', r))
      expect(['a', 'b']).toContain(JSON.parse(readFileSync(target, 'utf8')).fill)
      expect(statSync(target).mode & 0o777).toBe(0o600)
      expect(reads).toBeGreaterThan(0)
    }
  })
})
