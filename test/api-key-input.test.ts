import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { readApiKey } from '../src/auth/api-key/key-input.ts'

/** What `printf %s "$text" | qwenauth login --provider openrouter` hands readApiKey. */
function piped(text: string): Promise<string> {
  const stdin = Readable.from([Buffer.from(text)]) as unknown as NodeJS.ReadStream
  return readApiKey({ providerTitle: 'OpenRouter', providerArg: 'openrouter', stdin })
}

describe('a piped API key', () => {
  it.each([
    ['OPENROUTER_API_KEY=sk-or-v1-abcdef123456', /the API key starts with OPENROUTER_API_KEY=: give the key alone, without the variable name/],
    ['key=sk-abcdef123456\n', /starts with key=/],
    ['"sk-or-v1-abcdef123456"', /the API key is in quotes: give the key alone/],
    ["'sk-or-v1-abcdef123456'", /in quotes/],
    ['export OPENROUTER_API_KEY=sk-abc', /contains spaces/],
  ])('%j is refused with exit 2, and the key is not in the message', async (text, message) => {
    const failure = piped(text)
    await expect(failure).rejects.toThrow(message)
    await expect(failure).rejects.toMatchObject({ exitCode: 2 })
    await expect(failure).rejects.not.toThrow(/abcdef/)
  })

  it.each(['sk-or-v1-abcdef123456', 'QUJDREVGR0hJSktM==', 'c2stYWJjZGVm=', 'ms-5e1f0c3a-aaaa-bbbb-cccc-0123456789ab'])('%s is taken as it is', async (key) => {
    expect(await piped(`${key}\n`)).toBe(key)
  })
})
