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
