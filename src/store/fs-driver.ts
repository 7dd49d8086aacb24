import { defineDriver } from 'unstorage'
import fsLiteDriver from 'unstorage/drivers/fs-lite'
import { join } from 'pathe'
import { writeFileAtomic } from './atomic-write.ts'

/** Lock files and half-written temporaries are not storage items. */
const notAnItem = (path: string) => /\.(lock|tmp)$/.test(path) || /[\\/]locks[\\/]/.test(path) || /\.lock\.stale\./.test(path)

/** fs-lite's read helpers return (rather than throw) errors other than ENOENT; surface them. */
function rethrow<T>(value: T): T {
  if (value instanceof Error) throw value
  return value
}

/**
 * unstorage's fs-lite driver with its writes made atomic and private (0600 files in 0700
 * directories). fs-lite writes in place, which a reader can catch half-done and which a
 * SIGKILL can leave truncated; the credentials must never be either.
 */
export const privateFsDriver = defineDriver((options: { base: string }) => {
  const lite = fsLiteDriver({ base: options.base, ignore: notAnItem })
  const path = (key: string) => join(options.base, key.replace(/:/g, '/'))
  return {
    ...lite,
    name: 'qwenauth-fs',
    options,
    getItem: async (key: string) => rethrow(await lite.getItem(key, {})),
    getItemRaw: async (key: string) => rethrow(await lite.getItemRaw!(key, {})),
    setItem: (key: string, value: string) => writeFileAtomic(path(key), value),
    setItemRaw: (key: string, value: Uint8Array | string) => writeFileAtomic(path(key), value),
  }
})
