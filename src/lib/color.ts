/**
 * Whether to colour what goes to a stream: only a terminal, and never under NO_COLOR (any
 * non-empty value, as no-color.org says) or TERM=dumb. Pipes, files and logs get plain text.
 */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb'
}

/** SGR sequences (colours, bold, underline) out of text that must stay plain. */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '')
}
