import { encode } from 'uqr'

/** The QR standard's quiet zone: four light modules on every side. */
const QUIET_ZONE = 4
/** Indexed by (top module dark ? 2 : 0) + (bottom module dark ? 1 : 0): dark modules are ink. */
const HALF_BLOCKS = [' ', '\u2584', '\u2580', '\u2588']
// Colours 16 and 231 of the 256-colour cube are black and white in every palette: themes
// recolour the default foreground and background and the 16 basic colours, not the cube.
const INK_ON_PAPER = '\x1b[38;5;16;48;5;231m'
const RESET = '\x1b[0m'

/**
 * A QR code for a terminal, two modules per character cell. With colour, ink and paper are set
 * explicitly (black on white, quiet zone included), so it reads the same on light and dark
 * themes; a bare block character would be drawn in the theme's foreground, which is light on
 * dark themes and so inverts the code there. Without colour (NO_COLOR), the dark modules are
 * the theme's foreground: right on light themes, inverted (which many phone cameras still
 * read) on dark ones.
 */
export function renderTerminalQr(text: string, color: boolean): string {
  const { data, size } = encode(text, { border: QUIET_ZONE })
  const dark = (x: number, y: number) => y < size && data[y]?.[x] === true
  const lines: string[] = []
  for (let y = 0; y < size; y += 2) {
    let cells = ''
    for (let x = 0; x < size; x++) cells += HALF_BLOCKS[(dark(x, y) ? 2 : 0) + (dark(x, y + 1) ? 1 : 0)]
    lines.push(color ? `${INK_ON_PAPER}${cells}${RESET}` : cells)
  }
  return lines.join('\n')
}
