/** Flags several commands share, so they read and behave the same everywhere. */
export const accountArg = {
  account: { type: 'string', alias: 'a', description: 'Account id, unique id prefix, or label (default: the active account)', valueHint: 'id' },
} as const

export const jsonArg = {
  json: { type: 'boolean', description: 'Machine-readable JSON on stdout' },
} as const

/** stdout is for machine output only; one write so a pipe sees it whole. */
export function printOut(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/**
 * Every value of a repeatable flag (`--name v` or `--name=v`) up to a `--`: citty keeps only the
 * last one.
 */
export function repeatedFlag(rawArgs: readonly string[], name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? ''
    if (arg === '--') break
    if (arg === `--${name}` && rawArgs[i + 1] !== undefined) values.push(rawArgs[++i] ?? '')
    else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3))
  }
  return values
}

export const modelMapArg = {
  'model-map': {
    type: 'string',
    description: 'Requested model → model sent, for every account (e.g. claude-*haiku*=qwen3-coder-flash); repeatable or comma-separated; also QWENAUTH_MODEL_MAP',
    valueHint: 'from=to',
  },
} as const
