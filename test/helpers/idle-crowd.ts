import { connect, type Socket } from 'node:net'

/** What a crowd came to once every connection was opened and answered (or it stalled). */
export interface IdleCrowd {
  /** Connections established. */
  opened: number
  /** Connections that got their answer. */
  answered: number
  /** Connections closed before their answer, or not answered within 10 s. */
  failed: number
  /** How many of the answered ones the server has closed so far (none is closed by the crowd). */
  closedByServer(): number
  /** Waits, at most `ms`, until the server has closed every answered connection; resolves with closedByServer(). */
  allClosedByServer(ms: number): Promise<number>
  /** Closes whatever is still open. */
  destroy(): void
}

const REQUEST = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
const ANSWER_WAIT_MS = 10_000
/** Connections waiting for their answer at once: a burst beyond the listen backlog only makes SYN retries. */
const CONNECTING_AT_ONCE = 100

/**
 * `total` connections to 127.0.0.1:<port>, each sending `GET /health`, reading its answer and then
 * staying open and silent until the server closes it. At most `atOnce` are open at a time: the next
 * one is opened only when the server has closed another. So the server is never asked to hold more
 * than `atOnce` of them, however fast this machine is at the moment, and the crowd gets through
 * only if the server closes idle connections: if it keeps them, no connection is closed for
 * `stallMs` and the crowd resolves with fewer than `total` opened.
 */
export function idleCrowd(port: number, total: number, atOnce: number, stallMs = 15_000): Promise<IdleCrowd> {
  const sockets = new Set<Socket>()
  let started = 0
  let opened = 0
  let answered = 0
  let failed = 0
  let closedByServer = 0
  let waiting = 0
  const closeWaiters = new Set<() => void>()
  let finish: (() => void) | undefined
  /** Set by destroy(): what closes after it is no longer counted. */
  let ended = false
  let stall: NodeJS.Timeout | undefined

  const crowd: IdleCrowd = {
    get opened() {
      return opened
    },
    get answered() {
      return answered
    },
    get failed() {
      return failed
    },
    closedByServer: () => closedByServer,
    allClosedByServer: (ms) =>
      new Promise((resolve) => {
        const check = () => {
          if (closedByServer < answered) return
          clearTimeout(timer)
          closeWaiters.delete(check)
          resolve(closedByServer)
        }
        const timer = setTimeout(() => {
          closeWaiters.delete(check)
          resolve(closedByServer)
        }, ms)
        closeWaiters.add(check)
        check()
      }),
    destroy() {
      finish = undefined
      clearTimeout(stall)
      ended = true
      for (const socket of sockets) socket.destroy()
    },
  }

  /** No answer and no close by the server for `stallMs`: the crowd ends where it is. */
  const armStall = () => {
    clearTimeout(stall)
    if (finish) stall = setTimeout(() => finish?.(), stallMs)
  }

  const open = () => {
    started++
    waiting++
    const socket = connect(port, '127.0.0.1')
    sockets.add(socket)
    let state: 'waiting' | 'answered' | 'failed' = 'waiting'
    const settle = (ok: boolean) => {
      if (state !== 'waiting') return
      state = ok ? 'answered' : 'failed'
      clearTimeout(unanswered)
      waiting--
      if (ok) {
        answered++
        armStall()
      } else failed++
      pump()
    }
    const unanswered = setTimeout(() => {
      settle(false)
      socket.destroy()
    }, ANSWER_WAIT_MS)
    socket.setNoDelay(true)
    socket.on('connect', () => {
      opened++
      socket.write(REQUEST)
    })
    socket.on('data', (data: Buffer) => {
      // One short answer: its head and body arrive together on loopback.
      if (data.toString('latin1').startsWith('HTTP/1.1 ')) settle(true)
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      sockets.delete(socket)
      if (ended) return
      if (state === 'answered') {
        closedByServer++
        for (const waiter of closeWaiters) waiter()
        armStall()
      }
      settle(false)
      pump()
    })
  }

  const pump = () => {
    while (started < total && sockets.size < atOnce && waiting < CONNECTING_AT_ONCE) open()
    if (started === total && waiting === 0) finish?.()
  }

  return new Promise((resolve) => {
    finish = () => {
      finish = undefined
      clearTimeout(stall)
      resolve(crowd)
    }
    armStall()
    pump()
  })
}
