import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeviceAuthorization } from '../src/auth/oauth/device-flow.ts'
import { showLoginPrompt } from '../src/auth/oauth/login-prompt.ts'
import { DARK_THEME, LIGHT_THEME, renderCells, writePgm, type Theme } from './helpers/terminal-image.ts'

const zbarimg = spawnSync('zbarimg', ['--version']).status === 0
const URL_TO_SCAN = 'https://chat.qwen.ai/authorize?user_code=NJ8KN43F&client=qwen-code'

let dir: string | undefined
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

/** What `login` draws on a terminal: the QR code's lines, exactly as written to stderr. */
function qrLines(env: NodeJS.ProcessEnv): string[] {
  const saved = { ...process.env }
  Object.assign(process.env, env)
  let written = ''
  const out = { isTTY: true, write: (text: string) => ((written += text), true) } as unknown as NodeJS.WriteStream
  const auth: DeviceAuthorization = {
    deviceCode: 'dc',
    userCode: 'NJ8KN43F',
    verificationUri: 'https://chat.qwen.ai/authorize',
    verificationUriComplete: URL_TO_SCAN,
    expiresAt: Date.now() + 600_000,
    intervalSec: 2,
    codeVerifier: 'v',
  }
  try {
    showLoginPrompt(auth, true, out)()
  } finally {
    process.env = saved
  }
  // The prompt writes `\n<qr>\n\n<url and code>`.
  return written.slice(1, written.indexOf('\n\n', 1)).split('\n')
}

function decode(rows: number[][], theme: Theme): string {
  dir ??= mkdtempSync(join(tmpdir(), 'qwenauth-qr-'))
  const file = join(dir, `${theme.name}.pgm`)
  writePgm(file, rows, theme)
  const result = spawnSync('zbarimg', ['--raw', '-q', file], { encoding: 'utf8' })
  return result.stdout.trim()
}

describe('the login QR code', () => {
  it.skipIf(!zbarimg).each([DARK_THEME, LIGHT_THEME])('decodes on a $name terminal theme', (theme) => {
    const rows = renderCells(qrLines({ NO_COLOR: '', TERM: 'xterm-256color' }), theme)
    expect(decode(rows, theme)).toBe(URL_TO_SCAN)
  })

  it('has the four-module quiet zone, light whatever the theme', () => {
    for (const theme of [DARK_THEME, LIGHT_THEME]) {
      const rows = renderCells(qrLines({ NO_COLOR: '', TERM: 'xterm-256color' }), theme)
      // Module rows: an odd-sized code leaves half a cell of quiet zone more at the bottom.
      const size = rows[0]!.length
      const light = (values: number[]) => values.every((v) => v === 255)
      for (let i = 0; i < 4; i++) {
        expect(light(rows[i]!), `row ${i}`).toBe(true)
        expect(light(rows[size - 1 - i]!), `row ${size - 1 - i}`).toBe(true)
        expect(light(rows.slice(0, size).map((r) => r[i]!)), `column ${i}`).toBe(true)
        expect(light(rows.slice(0, size).map((r) => r[size - 1 - i]!)), `column ${size - 1 - i}`).toBe(true)
      }
      expect(light(rows[4]!)).toBe(false)
    }
  })

  it.skipIf(!zbarimg)('under NO_COLOR it is plain characters, dark modules in the ink: right on a light theme', () => {
    const lines = qrLines({ NO_COLOR: '1' })
    expect(lines.join('')).not.toContain('\x1b')
    expect(decode(renderCells(lines, LIGHT_THEME), LIGHT_THEME)).toBe(URL_TO_SCAN)
  })
})
