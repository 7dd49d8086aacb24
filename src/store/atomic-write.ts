import { randomBytes } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { basename, dirname, join } from 'pathe'

export const FILE_MODE = 0o600
export const DIR_MODE = 0o700

/**
 * Creates `dir` (and parents) as 0700; an existing directory open to others is tightened. A
 * sticky directory is shared on purpose (/tmp as QWEN_HOME, run as root, which owns it): it is
 * left alone, and the files written in it are 0600 all the same.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE })
  const stat = await fsp.stat(dir)
  const shared = (stat.mode & 0o1000) !== 0
  if (!shared && (stat.mode & 0o077) !== 0 && typeof process.getuid === 'function' && stat.uid === process.getuid()) {
    await fsp.chmod(dir, DIR_MODE)
  }
}

/**
 * Writes a file so that readers see the old content or the new, never a mix, even when the
 * process is killed mid-write: a temporary file in the same directory, fsync, then rename.
 * rename replaces a symlink at the target instead of following it.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path)
  await ensurePrivateDir(dir)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await fsp.open(tmp, 'wx', FILE_MODE)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } catch (error) {
    await handle.close().catch(() => {})
    await fsp.unlink(tmp).catch(() => {})
    throw error
  }
  await handle.close()
  try {
    await fsp.rename(tmp, path)
  } catch (error) {
    await fsp.unlink(tmp).catch(() => {})
    throw error
  }
  await syncDir(dir)
}

/** Makes the rename itself durable; not every platform lets a directory be opened. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return
  const handle = await fsp.open(dir, 'r').catch(() => undefined)
  if (!handle) return
  await handle.sync().catch(() => {})
  await handle.close().catch(() => {})
}
