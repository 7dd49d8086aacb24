import { ExitCode, QwenauthError, usageError } from '../../lib/errors.ts'
import { registerSecret } from '../../lib/redact.ts'

/**
 * Where an API key comes from. Never from a command-line argument: other users see those in
 * `ps` and shells keep them in history. So: a named environment variable, else stdin when it
 * is piped, else a hidden prompt on the terminal.
 */
export interface ApiKeyInputOptions {
  /** `--api-key-env NAME`: read the key from this variable. */
  apiKeyEnv?: string
  /** Who the key is for, in the prompt ("OpenRouter"). */
  providerTitle: string
  /** The `--provider` value, for the examples in error messages. */
  providerArg: string
  /** The variable the provider's docs use, suggested in messages. */
  suggestedEnv?: string
  env?: NodeJS.ProcessEnv
  stdin?: NodeJS.ReadStream
  /** Where the prompt goes (stderr: stdout is for machine output). */
  output?: NodeJS.WritableStream
  signal?: AbortSignal
}

const MAX_PIPED_BYTES = 64 * 1024
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// Keys travel in an HTTP header: printable ASCII without spaces.
const KEY_SHAPE = /^[\x21-\x7e]+$/

export async function readApiKey(options: ApiKeyInputOptions): Promise<string> {
  const stdin = options.stdin ?? process.stdin
  const raw = options.apiKeyEnv !== undefined
    ? keyFromEnv(options.apiKeyEnv, options.env ?? process.env)
    : stdin.isTTY
      ? await promptHidden(`${options.providerTitle} API key (input hidden): `, stdin, options.output ?? process.stderr, options.signal)
      : await readPiped(stdin, options.signal)
  const key = checkKey(raw.trim(), options)
  // From here on a secret: no log line may show it.
  registerSecret(key)
  return key
}

function keyFromEnv(name: string, env: NodeJS.ProcessEnv): string {
  if (!ENV_NAME.test(name)) throw usageError('--api-key-env takes the NAME of a variable that holds the key (e.g. --api-key-env OPENROUTER_API_KEY), not the key')
  const value = env[name]
  if (value === undefined) throw usageError(`--api-key-env ${name}: the variable ${name} is not set`)
  if (!value.trim()) throw usageError(`--api-key-env ${name}: the variable ${name} is empty`)
  return value
}

function checkKey(key: string, options: ApiKeyInputOptions): string {
  if (!key) {
    const variable = options.suggestedEnv ?? 'NAME'
    throw usageError(
      `no API key given: pipe it (printf %s "$KEY" | qwenauth login --provider ${options.providerArg}), ` +
        `name a variable (--api-key-env ${variable}), or run in a terminal to be prompted`,
    )
  }
  return checkKeyShape(key)
}

/** Keys travel in an HTTP header; anything else in one is a paste gone wrong. */
export function checkKeyShape(key: string): string {
  if (!KEY_SHAPE.test(key)) throw usageError('the API key contains spaces, line breaks or non-ASCII characters: give the key alone')
  // A line copied from a .env file. Base64 padding (`…==`) is no variable name, so it passes.
  const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(?!=*$)/.exec(key)
  if (assignment) throw usageError(`the API key starts with ${assignment[1]}=: give the key alone, without the variable name`)
  if (/^(["']).*\1$/.test(key)) throw usageError('the API key is in quotes: give the key alone')
  return key
}

async function readPiped(stdin: NodeJS.ReadStream, signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (error?: unknown) => {
      stdin.off('data', onData).off('end', onEnd).off('error', done)
      signal?.removeEventListener('abort', onAbort)
      stdin.pause()
      if (error) reject(error)
      else resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      size += buffer.length
      if (size > MAX_PIPED_BYTES) return done(usageError('stdin holds more than an API key: pipe the key alone'))
      chunks.push(buffer)
    }
    const onEnd = () => done()
    const onAbort = () => done(signal?.reason)
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    stdin.on('data', onData).once('end', onEnd).once('error', done)
    stdin.resume()
  })
}

// Escape sequences (arrow keys, bracketed-paste markers) are keys pressed, not key characters.
const ESCAPE_SEQUENCE = /\x1b\[[0-9;]*[~A-Za-z]|\x1b./g

/**
 * Reads one line from the terminal in raw mode, so the tty never echoes it. Raw mode is set
 * before the prompt is shown: anything typed once the prompt is visible stays hidden.
 * Raw mode also swallows Ctrl-C as a character, so it is handled here.
 */
async function promptHidden(question: string, stdin: NodeJS.ReadStream, output: NodeJS.WritableStream, signal: AbortSignal | undefined): Promise<string> {
  stdin.setRawMode(true)
  output.write(question)
  stdin.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    let key = ''
    const finish = (error?: unknown) => {
      stdin.off('data', onData).off('end', onEnd)
      signal?.removeEventListener('abort', onAbort)
      stdin.setRawMode(false)
      stdin.pause()
      output.write('\n')
      if (error) reject(error)
      else resolve(key)
    }
    const cancelled = () => new QwenauthError('cancelled', ExitCode.cancelled)
    const onData = (chunk: string) => {
      for (const ch of chunk.replace(ESCAPE_SEQUENCE, '')) {
        if (ch === '\r' || ch === '\n') return finish()
        if (ch === '\x03') return finish(cancelled())
        if (ch === '\x04') return key ? finish() : finish(cancelled())
        if (ch === '\x7f' || ch === '\b') key = key.slice(0, -1)
        else if (ch === '\x15') key = ''
        else if (ch >= ' ') key += ch
      }
    }
    const onEnd = () => finish()
    const onAbort = () => finish(signal?.reason ?? cancelled())
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    stdin.on('data', onData).once('end', onEnd)
    stdin.resume()
  })
}
