import { useColor } from '../../lib/color.ts'
import { formatDuration } from '../../lib/duration.ts'
import { renderTerminalQr } from './terminal-qr.ts'
import type { DeviceAuthorization } from './device-flow.ts'

/**
 * What the person logging in sees, on stderr. Without a TTY: plain lines a log or a CI job can
 * show. On a TTY: also a QR code to scan with a phone and a countdown.
 */
export function showLoginPrompt(auth: DeviceAuthorization, isTTY: boolean, out: NodeJS.WriteStream = process.stderr): () => void {
  const lines = [
    `To sign in to Qwen, open this URL on any device:`,
    `  ${auth.verificationUriComplete}`,
    `and confirm the code: ${auth.userCode}`,
  ]
  if (!isTTY) {
    out.write(`${lines.join('\n')}\nWaiting for approval (the code expires in ${formatDuration(auth.expiresAt - Date.now())})...\n`)
    return () => {}
  }
  const qr = renderTerminalQr(auth.verificationUriComplete, useColor(out))
  out.write(`\n${qr}\n\n${lines.join('\n')}\n\n`)
  const tick = () => out.write(`\r\x1b[2KWaiting for approval... ${formatDuration(auth.expiresAt - Date.now())} left (Ctrl-C cancels)`)
  tick()
  const timer = setInterval(tick, 1000)
  timer.unref?.()
  return () => {
    clearInterval(timer)
    out.write('\r\x1b[2K')
  }
}
