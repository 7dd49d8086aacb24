import { createHash, randomBytes } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'pathe'
import { errnoCode } from '../lib/errors.ts'

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
 * rename replaces a symlink at the target instead of following it. Temporary files a killed
 * writer left in the directory are removed afterwards.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path)
  await ensurePrivateDir(dir)
  const tmp = join(dir, tempName(path))
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
  await removeAbandonedTemps(dir).catch(() => {})
}

/** This machine, in temporary file names: a directory shared with others holds theirs too. */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8)

/**
 * `.<name>.<host>.<pid>.<random>.tmp`: the writer's machine and process are in the name, so a
 * temporary file whose writer is gone can be told from a write in progress.
 */
export function tempName(path: string, pid = process.pid): string {
  return `.${basename(path)}.${HOST_TAG}.${pid}.${randomBytes(6).toString('hex')}.tmp`
}

/** Ours, and before the host was named (`.<name>.<pid>.<random>.tmp`). */
const TEMP_NAME = /^\..+?\.(?:([0-9a-f]{8})\.)?(\d+)\.[0-9a-f]{12}\.tmp$/
/** No write takes this long: the age after which an unnamed host's temporary file is abandoned. */
const UNNAMED_HOST_AGE_MS = 60_000

/**
 * Removes the temporary files (0600, they may hold tokens) of writers on this machine that are
 * no longer running: killed in the middle of a write. Another machine's are left alone; so are
 * those of a running process, which may be writing them right now.
 */
async function removeAbandonedTemps(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const match = TEMP_NAME.exec(name)
    if (!match) continue
    const [, host, pidText] = match
    const pid = Number(pidText)
    if ((host !== undefined && host !== HOST_TAG) || pid === process.pid || isRunning(pid)) continue
    const path = join(dir, name)
    if (host === undefined) {
      const stat = await fsp.lstat(path).catch(() => undefined)
      if (!stat || Date.now() - stat.mtimeMs < UNNAMED_HOST_AGE_MS) continue
    }
    await fsp.unlink(path).catch(() => {})
  }
}

/** Signal 0 only asks: EPERM means it runs, as another user. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoCode(error) === 'EPERM'
  }
}

/** Makes the rename itself durable; not every platform lets a directory be opened. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return
  const handle = await fsp.open(dir, 'r').catch(() => undefined)
  if (!handle) return
  await handle.sync().catch(() => {})
  await handle.close().catch(() => {})
}
