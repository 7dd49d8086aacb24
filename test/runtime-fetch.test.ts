/**
 * The pieces that lift the runtime's fetch limits (see serve-fetch-limits.test.ts for them at
 * work): Bun's limit as Bun reads it, the reserve for refreshes, the waiting line past it, and
 * the option that switches Bun's own fetch timer off.
 */
import { describe, expect, it } from 'vitest'
import { FetchSlots, runtimeFetchLimit, untimedFetchOptions, upstreamFetchLimit } from '../src/proxy/runtime-fetch.ts'

describe('the runtime’s fetch limits', () => {
  it('Bun’s own timer is switched off on every model request', () => {
    // Bun 1.4.5 cuts a fetch silent for 5 min (at 300–360 s); `timeout: false` lifts it (a
    // 400 s silence measured both ways by hand; too long for a test).
    expect(untimedFetchOptions('bun')).toEqual({ timeout: false })
  })

  it('reads Bun’s limit as Bun does, and leaves a reserve for refreshes', () => {
    expect(runtimeFetchLimit({}, 'bun')).toBe(256)
    expect(runtimeFetchLimit({ BUN_CONFIG_MAX_HTTP_REQUESTS: '65535' }, 'bun')).toBe(65_535)
    expect(runtimeFetchLimit({ BUN_CONFIG_MAX_HTTP_REQUESTS: '0' }, 'bun')).toBe(256)
    expect(runtimeFetchLimit({ BUN_CONFIG_MAX_HTTP_REQUESTS: '8' }, 'node')).toBe(Number.POSITIVE_INFINITY)
    expect([8, 256, 65_535, Number.POSITIVE_INFINITY].map(upstreamFetchLimit)).toEqual([4, 192, 65_471, Number.POSITIVE_INFINITY])
  })

  it('hands out places in arrival order; a waiter that gives up leaves the line', async () => {
    const slots = new FetchSlots(1)
    const first = await slots.acquire()
    const order: string[] = []
    const leaving = new AbortController()
    const gaveUp = slots.acquire(leaving.signal).catch((error: unknown) => order.push(`gave up: ${String(error)}`))
    const second = slots.acquire().then((release) => (order.push('second'), release))
    leaving.abort('client left')
    await gaveUp
    first()
    ;(await second)()
    expect(order).toEqual(['gave up: client left', 'second'])
    expect(slots.active).toBe(0)
  })
})
