/**
 * Which worker of `serve --workers N` this process is, if it is one. The primary process sets
 * QWENAUTH_SERVE_WORKER=`i/N` for each worker it starts (see commands/_workers.ts); nothing
 * else should set it.
 */
export const WORKER_ENV = 'QWENAUTH_SERVE_WORKER'

export interface WorkerIdentity {
  /** 1-based. */
  index: number
  count: number
}

export function workerIdentity(env: NodeJS.ProcessEnv = process.env): WorkerIdentity | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(env[WORKER_ENV] ?? '')
  if (!match) return undefined
  const index = Number(match[1])
  const count = Number(match[2])
  return index >= 1 && index <= count ? { index, count } : undefined
}
