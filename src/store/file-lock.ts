import { randomUUID } from 'node:crypto'
import { promises as fsp, readFileSync, unlinkSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { dirname, join } from 'pathe'
import { DEFAULTS } from '../defaults.ts'
import { errnoCode, ExitCode, QwenauthError } from '../lib/errors.ts'
import { LOCK_NAMES } from '../lib/paths.ts'
import { ensurePrivateDir, FILE_MODE } from './atomic-write.ts'
import { LOCK_RETRY, retryDelay, sleep, type AcquireOptions, type Locker, type Release } from './locker.ts'

/** Touch a held lock at least this often, so it stays far younger than an older CLI's 10 s. */
const MAX_HEARTBEAT_MS = 2_500
/** How much longer than the stale limit a taker of one of qwenauth's own locks waits. */
const OWN_LOCK_EXTRA_WAIT_MS = 10_000

/** Locks this process holds, removed on exit so a crash-free exit never leaves one behind. */
const held = new Map<string, string>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const [path, owner] of held) {
      try {
        if (readFileSync(path, 'utf8') === owner) unlinkSync(path)
      } catch {}
    }
  })
}

/**
 * The official CLI's `oauth_creds.lock` protocol, for any lock file: exclusive create with a
 * UUID, a stale lock (mtime older than the timeout) renamed aside and removed, backoff between
 * tries. While held, the mtime is touched so a slow refresh is never mistaken for a dead holder.
 */
export function createFileLocker(home: string, staleMs: number = DEFAULTS.lockStaleMs): Locker {
  const pathFor = (name: string) =>
    name === LOCK_NAMES.creds ? join(home, 'oauth_creds.lock') : join(home, 'qwenauth', 'locks', `${name}.lock`)

  return {
    async acquire(name: string, options: AcquireOptions = {}): Promise<Release | undefined> {
      const path = pathFor(name)
      await ensurePrivateDir(dirname(path))
      // The shared creds lock keeps the official schedule (20 tries, about 29 s). Our own locks
      // wait past the stale limit, so a holder that was SIGKILLed is taken over, not waited out.
      const waitUntil = name === LOCK_NAMES.creds ? Number.POSITIVE_INFINITY : Date.now() + staleMs + OWN_LOCK_EXTRA_WAIT_MS
      let removedJustNow = false
      for (let attempt = 0; attempt < LOCK_RETRY.tries || Date.now() < waitUntil; attempt++) {
        const owner = randomUUID()
        if (await tryCreate(path, owner)) return holdLock(path, owner, staleMs)
        // Straight back after removing a stale lock, but never twice in a row: whatever keeps
        // the path taken, the loop waits between tries instead of spinning.
        if (!removedJustNow && (await removeIfStale(path, staleMs))) {
          removedJustNow = true
          continue
        }
        removedJustNow = false
        await sleep(retryDelay(attempt), options.signal)
        if (options.shouldStop && (await options.shouldStop())) return undefined
      }
      throw new QwenauthError(
        `timed out waiting for the lock ${path}: another process holds it`,
        ExitCode.lockTimeout,
        'if no qwen or qwenauth process is running, remove that file',
      )
    },
  }
}

async function tryCreate(path: string, owner: string): Promise<boolean> {
  let handle: FileHandle
  try {
    handle = await fsp.open(path, 'wx', FILE_MODE)
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false
    throw error
  }
  try {
    await handle.writeFile(owner)
    await handle.close()
    return true
  } catch (error) {
    // The file is ours and holds no owner (a full disk): left behind, it would block every
    // other taker until it went stale.
    await handle.close().catch(() => {})
    await fsp.unlink(path).catch(() => {})
    throw error
  }
}

/**
 * Whether the lock at `path` was stale and is gone now. The path itself is judged, never what
 * it points to: a dangling symlink there makes `open(wx)` fail with EEXIST while `stat` finds
 * nothing, and it is an old lock like any other.
 */
async function removeIfStale(path: string, staleMs: number): Promise<boolean> {
  let mtimeMs: number
  try {
    mtimeMs = (await fsp.lstat(path)).mtimeMs
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return true
    throw error
  }
  if (Date.now() - mtimeMs <= staleMs) return false
  // Renaming first means only one of several waiters removes it: the others' rename fails.
  const aside = `${path}.stale.${randomUUID()}`
  try {
    await fsp.rename(path, aside)
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
    return true
  }
  // Unless another waiter removed the stale lock and took a fresh one between our look and our
  // rename: then we moved a live lock, and it goes back (link never replaces a newer one), or
  // two processes would hold it and refresh one token twice.
  const moved = await fsp.lstat(aside).catch(() => undefined)
  if (moved && Date.now() - moved.mtimeMs <= staleMs) await fsp.link(aside, path).catch(() => {})
  await fsp.unlink(aside).catch(() => {})
  return true
}

function holdLock(path: string, owner: string, staleMs: number): Release {
  held.set(path, owner)
  installExitHook()
  const heartbeat = setInterval(() => {
    const now = new Date()
    fsp.utimes(path, now, now).catch((error: unknown) => {
      // qwen-code's exit handler deletes oauth_creds.lock even in a process that never took it:
      // put ours back (exclusively, so a lock someone has taken since is left alone).
      if (errnoCode(error) === 'ENOENT') void tryCreate(path, owner).catch(() => {})
    })
  }, Math.max(250, Math.min(Math.floor(staleMs / 4), MAX_HEARTBEAT_MS)))
  heartbeat.unref?.()
  let released = false
  return async () => {
    if (released) return
    released = true
    clearInterval(heartbeat)
    held.delete(path)
    // Only remove our own lock: if it was taken over as stale, the file is someone else's.
    const content = await fsp.readFile(path, 'utf8').catch(() => undefined)
    if (content === owner) await fsp.unlink(path).catch(() => {})
  }
}
