/**
 * Work an exit must not cut short: a token refresh the OAuth server may already have acted on
 * (its rotated refresh token exists only in the answer, so an exit before it is stored loses the
 * login). Whoever starts such work registers it here (the account store, for its refreshes),
 * with how long it may still take; the exit paths (cli.ts, interrupt.ts) ask whether anything is
 * unfinished and wait for it, never longer than that. Only the list lives here: lib/ knows
 * nothing of what the work is.
 */
interface Unfinished {
  /** For the line that says why the exit waits ("a token refresh"). */
  what: string
  done: Promise<unknown>
  /** The longest an exit waits for it, counted from when the exit starts waiting. */
  maxWaitMs: number
}

const unfinished = new Set<Unfinished>()
let exitBegun = false

/** Registers work an exit must wait for; it leaves the list by itself once `done` settles. */
export function holdExitUntil(what: string, done: Promise<unknown>, maxWaitMs: number): void {
  const entry: Unfinished = { what, done, maxWaitMs }
  unfinished.add(entry)
  void done.then(
    () => unfinished.delete(entry),
    () => unfinished.delete(entry),
  )
}

/** What an exit would wait for now, one phrase each (empty: nothing). */
export function unfinishedWork(): string[] {
  return [...unfinished].map((entry) => entry.what)
}

/** Marks the process as on its way out: work registered here starts nothing new (a retry, a refresh). */
export function beginExit(): void {
  exitBegun = true
}

/** Whether the process is on its way out (a signal arrived, or the exit path is waiting). */
export function isExiting(): boolean {
  return exitBegun
}

/** Waits until the unfinished work is done (however it ended), each piece at most its own bound. */
export async function finishUnfinishedWork(): Promise<void> {
  beginExit()
  await Promise.all([...unfinished].map((entry) => settledWithin(entry.done, entry.maxWaitMs)))
}

/** `work` settled (either way), or `ms` passed: whichever comes first. */
export function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  return Promise.race([work.then(() => {}, () => {}), bound]).finally(() => clearTimeout(timer))
}
