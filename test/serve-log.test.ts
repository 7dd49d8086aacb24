import { afterEach, describe, expect, it, vi } from 'vitest'
import { runServe } from '../src/commands/serve.ts'
import { tempHome } from './helpers/cli.ts'

afterEach(() => vi.restoreAllMocks())

describe('serve log lines', () => {
  it('start with an ISO 8601 time, the request lines included', async () => {
    const { home, cleanup } = tempHome()
    let log = ''
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((log += String(chunk)), true))
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const server = await runServe({ port: 0 }, { QWEN_HOME: home })
    try {
      const before = Date.now()
      expect((await fetch(`${server.url}/v1/models`)).status).toBe(503)
      for (let i = 0; i < 50 && !log.includes('GET /v1/models'); i++) await new Promise((r) => setTimeout(r, 20))
      const lines = log.trimEnd().split('\n')
      expect(lines.some((l) => l.includes('base URL'))).toBe(true)
      for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(info|warn)\] /)
      const request = lines.find((l) => l.includes('GET /v1/models'))!
      expect(Date.parse(request.slice(0, 24))).toBeGreaterThanOrEqual(before - 5)
    } finally {
      await server.close()
      cleanup()
    }
  })
})
