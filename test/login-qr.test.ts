import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeviceAuthorization } from '../src/auth/oauth/device-flow.ts'
import { showLoginPrompt } from '../src/auth/oauth/login-prompt.ts'
import { startEmulator } from './fixtures/qwen-emulator.ts'
import { tempHome } from './helpers/cli.ts'
import { runCliOnPty } from './helpers/pty.ts'
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
    // In place: a plain object as process.env would no longer reach the real environment, which
    // os.homedir() and child processes of later tests in this worker read.
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
    Object.assign(process.env, saved)
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

describe('login on a terminal', () => {
  it('draws a QR code of the URL and a countdown', async () => {
    const emu = await startEmulator({ autoApprove: true, interval: 0.05 })
    const { home, cleanup } = tempHome()
    try {
      const result = await runCliOnPty(['login'], {
        home,
        env: { QWENAUTH_OAUTH_URL: emu.url },
        waitFor: 'Waiting for approval',
        answer: '',
        timeoutMs: 15_000,
      })
      expect(result.code, result.stdout).toBe(0)
      // Two QR rows per line in half blocks; a URL this long needs 15+ lines.
      expect(result.stdout.split('\n').filter((line) => /[▀▄█]/.test(line)).length).toBeGreaterThanOrEqual(15)
      expect(result.stdout).toMatch(/Waiting for approval\.\.\. \d+:\d\d left \(Ctrl-C cancels\)/)
      expect(result.stdout).toMatch(/confirm the code: [A-Z0-9]{8}/)
    } finally {
      await emu.close()
      cleanup()
    }
  })
})
