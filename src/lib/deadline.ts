/**
 * A signal that aborts when the caller's signal does or when `timeoutMs` runs out. ofetch drops
 * its `timeout` option whenever a `signal` is passed, so a request that takes a caller's signal
 * (Ctrl-C, a client that went away) carries its deadline in the signal itself, or it could wait
 * forever on a server that never answers (while holding the refresh locks).
 */
export interface Deadline {
  signal: AbortSignal
  /** True when the time ran out (rather than the caller aborting). */
  timedOut(): boolean
  /** Stops the timer and lets go of the caller's signal. */
  clear(): void
}

export function deadline(timeoutMs: number, signal?: AbortSignal): Deadline {
  const controller = new AbortController()
  let expired = false
  const timer = setTimeout(() => {
    expired = true
    controller.abort(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' }))
  }, timeoutMs)
  const onAbort = () => controller.abort(signal?.reason)
  if (signal?.aborted) onAbort()
  else signal?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => expired,
    clear: () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    },
  }
}
