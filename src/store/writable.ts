import type { Context } from '../context.ts'

/** A key nothing reads; written and removed again at once. */
const PROBE_KEY = 'qwenauth:.write-check'

/**
 * Fails now, with the usual one-line filesystem (or Redis) error, if the store cannot take a
 * write: a login that only finds out when it saves has already had the user approve on their
 * phone, or type a key, for nothing. The probe takes the same write path as the accounts.
 */
export async function checkStoreWritable(ctx: Context): Promise<void> {
  await ctx.storage.setItemRaw(PROBE_KEY, '')
  await ctx.storage.removeItem(PROBE_KEY)
}
