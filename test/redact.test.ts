import { describe, expect, it } from 'vitest'
import { redact, registerSecret, secretHint } from '../src/lib/redact.ts'

describe('redaction of keys of any length', () => {
  it('a key of 8 characters or more goes wherever it occurs; a shorter one where it stands alone', () => {
    registerSecret('long-key-0123')
    registerSecret('Zx7')
    expect(redact('a=long-key-0123 xlong-key-0123y')).toBe('a=[redacted] x[redacted]y')
    // The line keeps its words: "Zx7" inside "aZx7b" or "Zx7-b" is not the key standing alone.
    expect(redact('key=Zx7, "Zx7" Bearer Zx7; aZx7b Zx7-b Zx7.')).toBe('key=[redacted], "[redacted]" Bearer [redacted]; aZx7b Zx7-b [redacted].')
  })

  it('a key hint shows up to four characters, and always leaves 8 hidden', () => {
    expect(secretHint('sk-0123456789abcdef')).toBe('…cdef')
    expect(secretHint('sk-good-1234')).toBe('…1234')
    expect(secretHint('0123456789')).toBe('…89')
    expect(secretHint('k7x9Qa2')).toBe('…')
    expect(secretHint('q7')).toBe('…')
    expect(secretHint(undefined)).toBe('')
  })
})
