import { spawn } from 'node:child_process'

/**
 * A browser is opened only where someone is sitting at this machine: a desktop session, not
 * CI, not SSH. Everywhere else the URL, the code and the QR code are the way in.
 */
export function canOpenBrowser(env: NodeJS.ProcessEnv = process.env, platform = process.platform): boolean {
  if (env.QWENAUTH_NO_BROWSER === '1' || env.CI || env.SSH_CONNECTION || env.SSH_TTY || env.SSH_CLIENT) return false
  if (platform === 'darwin' || platform === 'win32') return true
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY)
}

/** Best effort and detached: a missing opener must never fail the login. */
export function openBrowser(url: string, platform = process.platform): void {
  const [command, args] =
    platform === 'darwin' ? ['open', [url]] : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]]
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true })
    child.on('error', () => {})
    child.unref()
  } catch {}
}
