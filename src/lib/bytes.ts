import { envNumber } from './env-number.ts'
import { DEFAULTS } from '../defaults.ts'

/** Sizes as people set them: 64 MiB, 512 KiB, 100 bytes. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`
  return n >= 1024 ? `${Math.round((n / 1024) * 10) / 10} KiB` : `${n} bytes`
}

/** An answer longer than the caller holds: nothing more of it was read. */
export class TooManyBytes extends Error {
  override readonly name = 'TooManyBytes'
}

/** The largest whole answer qwenauth holds (QWENAUTH_MAX_ANSWER_BYTES, else its default; 0 is the default). */
export function maxAnswerBytes(env: NodeJS.ProcessEnv = process.env): number {
  return envNumber(env, 'QWENAUTH_MAX_ANSWER_BYTES') || DEFAULTS.maxAnswerBytes
}

/**
 * An answer's body as text, never holding more than `maxBytes`: past it the body is cancelled
 * and TooManyBytes thrown (the caller's fetch signal then ends the connection).
 */
export async function readTextAtMost(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      const error = new TooManyBytes(`the answer is over the ${formatBytes(maxBytes)} limit (QWENAUTH_MAX_ANSWER_BYTES)`)
      await reader.cancel(error).catch(() => {})
      throw error
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
