/** The upstream went silent for longer than a timeout allows. */
export class UpstreamTimeout extends Error {
  override readonly name = 'UpstreamTimeout'
}

/**
 * One request to one account, with its own abort: the client leaving aborts it, and so does a
 * timeout that is re-armed whenever the upstream shows life.
 */
export class UpstreamExchange {
  private readonly controller = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly unlink: () => void
  /** The client left: failures after this are not the account's fault. */
  clientGone = false

  constructor(clientSignal: AbortSignal | undefined) {
    const onClientGone = () => {
      this.clientGone = true
      this.controller.abort(clientSignal?.reason ?? new DOMException('client went away', 'AbortError'))
    }
    if (clientSignal?.aborted) onClientGone()
    clientSignal?.addEventListener('abort', onClientGone, { once: true })
    this.unlink = () => clientSignal?.removeEventListener('abort', onClientGone)
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  arm(ms: number, what: string): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.controller.abort(new UpstreamTimeout(`${what} (${Math.round(ms / 1000)} s)`)), ms)
  }

  abort(reason?: unknown): void {
    this.controller.abort(reason)
    this.finish()
  }

  /** Stops the timeout, still listening for the client: nothing is being waited for. */
  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  finish(): void {
    this.disarm()
    this.unlink()
  }

  /** What a failed read or fetch really failed on: our timeout or the client, when either fired. */
  cause(error: unknown): unknown {
    return this.controller.signal.aborted ? this.controller.signal.reason : error
  }
}
