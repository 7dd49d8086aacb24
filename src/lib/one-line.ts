/**
 * Text from outside (an upstream's error message, a label from token claims or a client, a
 * network error) made safe to print on one line. A line break in it would start a new log line
 * that looks like qwenauth's own (under journald, `docker logs` or in a file), and an escape
 * sequence would reach the terminal of whoever reads the log or `status` (window title, OSC 52
 * clipboard, colours). Line breaks and tabs become spaces; every other control character (C0,
 * DEL, C1, ESC among them) is shown escaped (`\x1b`), so it stays visible but inert.
 */
/** C0, DEL and C1 control characters, and the Unicode line and paragraph separators. */
const CONTROL_CLASS = '[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]'
const CONTROL = new RegExp(CONTROL_CLASS)
const CONTROLS = new RegExp(`\\r\\n|${CONTROL_CLASS}`, 'g')
const CONTROL_RUNS = new RegExp(`${CONTROL_CLASS}+`, 'g')
const SPACED = new Set(['\r\n', '\r', '\n', '\t', '\u2028', '\u2029'])

/** True when the text holds a character `oneLine` changes. */
export function hasControl(text: string): boolean {
  return CONTROL.test(text)
}

/** Each run of control characters as one space (a label that is cleaned, not refused). */
export function controlsAsSpaces(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROL_RUNS, ' ') : text
}

/** The text on one line, without control characters; text that has none (nearly all) as it is. */
export function oneLine(text: string): string {
  if (!CONTROL.test(text)) return text
  return text.replace(CONTROLS, (c) => (SPACED.has(c) ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
}
