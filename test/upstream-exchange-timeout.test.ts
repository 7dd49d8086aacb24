/**
 * The upstream timeout of one exchange, re-armed around every chunk a stream reads: it fires
 * exactly when the upstream has been silent for the armed time, never while it keeps answering
 * or while nothing is awaited, and leaves no timer behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { UpstreamExchange, UpstreamTimeout } from '../src/proxy/upstream.ts'

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }))
afterEach(() => void vi.useRealTimers())

describe('an upstream exchange timeout', () => {
  it('fires after the armed silence, with what was awaited', () => {
    const exchange = new UpstreamExchange(undefined)
    exchange.arm(1000, 'the upstream went silent')
    vi.advanceTimersByTime(999)
    expect(exchange.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(exchange.signal.reason).toBeInstanceOf(UpstreamTimeout)
    expect((exchange.signal.reason as Error).message).toBe('the upstream went silent (1 s)')
  })

  it('a stream that answers within the limit every time is never cut, however long it runs; its first silence past the limit is', () => {
    const exchange = new UpstreamExchange(undefined)
    for (let chunk = 0; chunk < 50; chunk++) {
      exchange.arm(1000, 'the upstream went silent')
      vi.advanceTimersByTime(900)
      exchange.disarm()
    }
    expect(exchange.signal.aborted).toBe(false)
    exchange.arm(1000, 'the upstream went silent')
    vi.advanceTimersByTime(999)
    expect(exchange.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(exchange.signal.aborted).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('disarmed (a slow client holds the relay back), nothing fires; a shorter limit armed later fires on time', () => {
    const exchange = new UpstreamExchange(undefined)
    exchange.arm(30_000, 'the upstream did not answer in time')
    exchange.disarm()
    vi.advanceTimersByTime(60_000)
    expect(exchange.signal.aborted).toBe(false)
    exchange.arm(30_000, 'the upstream did not answer in time')
    vi.advanceTimersByTime(1000)
    exchange.arm(2000, 'the upstream went silent')
    vi.advanceTimersByTime(2000)
    expect((exchange.signal.reason as Error).message).toBe('the upstream went silent (2 s)')
  })

  it('finished, it leaves no timer behind', () => {
    const exchange = new UpstreamExchange(undefined)
    exchange.arm(1000, 'the upstream went silent')
    exchange.finish()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(5000)
    expect(exchange.signal.aborted).toBe(false)
  })
})
