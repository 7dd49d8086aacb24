/**
 * Numbers on the command line are written in decimal digits: JavaScript's Number() would take
 * `0x50` as 80, `1e3` as 1000 and an empty value as 0 (a random port), so a typo would pass for
 * a different setting instead of being refused.
 */
import { describe, expect, it } from 'vitest'
import { parseWorkers } from '../src/commands/_workers.ts'
import { parsePort } from '../src/commands/serve.ts'
import { parseResetDay } from '../src/pool/limits.ts'

const NOT_DECIMAL = ['0x50', '1e3', '', ' 80', '80 ', '+80', '80.0', '0b1', '0o7', '８０']

describe('number arguments', () => {
  it.each(NOT_DECIMAL)('--port %j is refused (exit 2)', (value) => {
    expect(() => parsePort(value)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--port') }))
  })
  it.each(NOT_DECIMAL.filter((v) => v !== ''))('--workers %j is refused (exit 2)', (value) => {
    expect(() => parseWorkers(value)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--workers') }))
  })
  it.each(['0x1f', '1e1', '', '+5', '5.0'])('--reset-day %j is refused (exit 2)', (value) => {
    expect(() => parseResetDay(value)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--reset-day') }))
  })
  it('decimal values within range are taken', () => {
    expect([parsePort('0'), parsePort('8080'), parsePort('65535')]).toEqual([0, 8080, 65535])
    expect([parseWorkers('1'), parseWorkers('08')]).toEqual([1, 8])
    expect([parseResetDay('1'), parseResetDay('31'), parseResetDay('none')]).toEqual([1, 31, null])
  })
})
