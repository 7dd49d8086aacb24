import { writeFileSync } from 'node:fs'

/** A terminal colour theme: what the default foreground and background look like (grey 0–255). */
export interface Theme {
  name: string
  foreground: number
  background: number
}

export const DARK_THEME: Theme = { name: 'dark', foreground: 230, background: 20 }
export const LIGHT_THEME: Theme = { name: 'light', foreground: 25, background: 250 }

/** Grey levels of the colours a terminal renders the same whatever the theme. */
function paletteGrey(index: number): number | undefined {
  if (index === 16) return 0
  if (index === 231) return 255
  return undefined
}

/**
 * What a terminal shows for these lines, as module rows: each character cell is one pixel
 * wide and two tall (a half block covers one of them), in grey levels. Understands SGR 0, 39,
 * 49 and 256-colour 38;5;n / 48;5;n for the cube's black and white; other escapes are ignored.
 */
export function renderCells(lines: string[], theme: Theme): number[][] {
  const rows: number[][] = []
  for (const line of lines) {
    const top: number[] = []
    const bottom: number[] = []
    let fg = theme.foreground
    let bg = theme.background
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '\x1b') {
        const match = /^\x1b\[([0-9;]*)([A-Za-z])/.exec(line.slice(i))
        if (!match) continue
        i += match[0].length - 1
        if (match[2] !== 'm') continue
        const codes = (match[1] || '0').split(';').map(Number)
        for (let c = 0; c < codes.length; c++) {
          const code = codes[c]
          if (code === 0) [fg, bg] = [theme.foreground, theme.background]
          else if (code === 39) fg = theme.foreground
          else if (code === 49) bg = theme.background
          else if ((code === 38 || code === 48) && codes[c + 1] === 5) {
            const grey = paletteGrey(codes[c + 2] ?? -1)
            if (grey === undefined) throw new Error(`colour ${codes[c + 2]} depends on the theme`)
            if (code === 38) fg = grey
            else bg = grey
            c += 2
          } else throw new Error(`unexpected SGR ${code}`)
        }
        continue
      }
      const ch = line[i]
      top.push(ch === '\u2588' || ch === '\u2580' ? fg : bg)
      bottom.push(ch === '\u2588' || ch === '\u2584' ? fg : bg)
    }
    rows.push(top, bottom)
  }
  return rows
}

/** The cells as an image: `margin` cells of the theme's background around, `scale` pixels a module. */
export function writePgm(path: string, rows: number[][], theme: Theme, scale = 6, margin = 3): void {
  const width = Math.max(...rows.map((r) => r.length)) + 2 * margin
  const height = rows.length + 4 * margin
  const pixels = Buffer.alloc(width * scale * height * scale, theme.background)
  rows.forEach((row, y) =>
    row.forEach((grey, x) => {
      for (let dy = 0; dy < scale; dy++) {
        const offset = ((y + 2 * margin) * scale + dy) * width * scale + (x + margin) * scale
        pixels.fill(grey, offset, offset + scale)
      }
    }),
  )
  writeFileSync(path, Buffer.concat([Buffer.from(`P5\n${width * scale} ${height * scale}\n255\n`), pixels]))
}
