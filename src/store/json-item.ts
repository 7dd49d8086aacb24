import type { Storage } from 'unstorage'
import { QwenauthError } from '../lib/errors.ts'

/** Reads a stored string without unstorage's lenient JSON guessing, so corruption is visible. */
export async function readText(storage: Storage, key: string): Promise<string | undefined> {
  const raw = await storage.getItemRaw(key)
  if (raw === null || raw === undefined) return undefined
  if (typeof raw === 'string') return raw
  if (raw instanceof Uint8Array) return new TextDecoder().decode(raw)
  return JSON.stringify(raw)
}

export async function writeJson(storage: Storage, key: string, value: unknown): Promise<void> {
  await storage.setItemRaw(key, `${JSON.stringify(value, null, 2)}\n`)
}

/**
 * A JSON document owned by qwenauth. A document that does not parse is set aside as
 * `<key>.corrupt-<time>` (never overwritten), and the command stops with one line.
 */
export async function readOwnJson(storage: Storage, key: string, where: string): Promise<unknown> {
  const text = await readText(storage, key)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    const aside = `${key}.corrupt-${Date.now()}`
    await storage.setItemRaw(aside, text)
    await storage.removeItem(key)
    throw new QwenauthError(
      `${where} was not valid JSON; it was moved to ${aside.replace(/:/g, '/')} and a new one will be started`,
    )
  }
}
