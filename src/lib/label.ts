import { usageError } from './errors.ts'
import { controlsAsSpaces, hasControl } from './one-line.ts'

/**
 * Account labels. A label is shown in `status`, the log and the status page, matched when an
 * account is named, and offered by the shell completions; it may come from a client of the status
 * page, from a token's claims or from a shared store. So a label is one line of printable text
 * (an email, a name, `work`; spaces allowed) of at most LABEL_MAX_LENGTH characters.
 */
export const LABEL_MAX_LENGTH = 64

/** A label someone gave (`--label`, the status page's field), or a usage error (exit 2) naming `what` and what is wrong. */
export function checkLabel(label: string, what = '--label'): string {
  if (!label.trim()) throw usageError(`${what} is empty: give the name to show`)
  if (hasControl(label)) throw usageError(`${what} must be one line of printable characters: no line breaks, tabs or control characters`)
  const length = [...label].length
  if (length > LABEL_MAX_LENGTH) throw usageError(`${what} is ${length} characters long: give a name of at most ${LABEL_MAX_LENGTH}`)
  return label
}

/**
 * A label taken from outside that is not refused but made to fit (an OAuth token's email or name:
 * the login must not fail over it): control characters become spaces, the ends are trimmed and it
 * is cut to LABEL_MAX_LENGTH characters. Undefined when nothing is left.
 */
export function cleanLabel(text: string | undefined): string | undefined {
  if (!text) return undefined
  const cleaned = [...controlsAsSpaces(text).trim()].slice(0, LABEL_MAX_LENGTH).join('').trim()
  return cleaned || undefined
}
