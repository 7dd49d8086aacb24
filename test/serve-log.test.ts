import { afterEach, describe, expect, it, vi } from 'vitest'
import { runServe } from '../src/commands/serve.ts'
import { bufferLines, infoLine, timestampLines } from '../src/lib/logger.ts'
import { tempHome } from './helpers/cli.ts'

/**
 * Under `bufferLines()` the logger writes stderr with writeSync(2, …) itself (one write per piece
 * of whole lines); these tests take those writes instead of the real stderr.
 */
const stderr = vi.hoisted(() => ({ writes: undefined as string[] | undefined }))
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const writeSync = ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    if (fd !== 2 || !stderr.writes) return (fs.writeSync as (...args: unknown[]) => number)(fd, data, ...rest)
    stderr.writes.push(typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString())
    return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength
  }) as typeof fs.writeSync
  return { ...fs, writeSync }
})

/** What goes to stderr from now on, through process.stderr or the logger's own writes. */
function captureStderr(): string[] {
  const writes: string[] = []
  stderr.writes = writes
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true))
  return writes
}

afterEach(() => {
  stderr.writes = undefined
  vi.restoreAllMocks()
})

describe('serve log lines', () => {
  it('start with an ISO 8601 time, the request lines included', async () => {
    const { home, cleanup } = tempHome()
    const writes = captureStderr()
    const log = () => writes.join('')
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const server = await runServe({ port: 0 }, { QWEN_HOME: home })
    try {
      const before = Date.now()
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(503)
      for (let i = 0; i < 50 && !log().includes('GET /v1/models'); i++) await new Promise((r) => setTimeout(r, 20))
      const lines = log().trimEnd().split('\n')
      expect(lines.some((l) => l.includes('base URL'))).toBe(true)
      for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(info|warn)\] /)
      const request = lines.find((l) => l.includes('GET /v1/models'))!
      expect(Date.parse(request.slice(0, 24))).toBeGreaterThanOrEqual(before - 5)
    } finally {
      await server.close()
      cleanup()
    }
  })

  it('keeps every request line when lines are buffered', async () => {
    const { home, cleanup } = tempHome()
    const writes = captureStderr()
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const server = await runServe({ port: 0 }, { QWEN_HOME: home })
    try {
      // Long paths make lines of several hundred bytes: 200 of them need many writes.
      const path = (i: number) => `/v1/models?${String(i).padStart(4, '0')}${'x'.repeat(400)}`
      await Promise.all(Array.from({ length: 200 }, (_, i) => fetch(`${server.url}${path(i)}`).then((r) => r.text())))
      const count = () => writes.join('').split('\n').filter((l) => l.includes('GET /v1/models')).length
      for (let i = 0; i < 50 && count() < 200; i++) await new Promise((r) => setTimeout(r, 20))
      expect(count()).toBe(200)
      for (const write of writes) {
        expect(write.endsWith('\n')).toBe(true)
        if (write.split('\n').length > 2) expect(Buffer.byteLength(write)).toBeLessThanOrEqual(4096)
      }
    } finally {
      await server.close()
      cleanup()
    }
  })

  it('go out in whole lines, at most 4096 bytes per write, so the workers sharing stderr never cut each other\'s lines', async () => {
    const writes = captureStderr()
    timestampLines()
    bufferLines()
    // Within one turn of the event loop, as under load: 64 KiB and more pending at once.
    for (let i = 0; i < 1500; i++) infoLine(`GET /v1/models ${i} ${'é'.repeat(i % 60)}`)
    infoLine(`GET /v1/long ${'x'.repeat(5000)}`)
    await new Promise((r) => setImmediate(r))
    const lines = writes.join('').split('\n').filter(Boolean)
    expect(lines).toHaveLength(1501)
    expect(lines.every((l, i) => i === 1500 || l.includes(`GET /v1/models ${i} `))).toBe(true)
    for (const write of writes) {
      expect(write.endsWith('\n')).toBe(true)
      if (write.split('\n').length > 2) expect(Buffer.byteLength(write)).toBeLessThanOrEqual(4096)
    }
    expect(writes.length).toBeLessThan(200)
  })
})
