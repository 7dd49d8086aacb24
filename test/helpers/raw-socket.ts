import { connect, type Socket } from 'node:net'

/** A connection driven byte by byte, for what HTTP clients never do (stall, pipeline, idle). */
export interface RawConnection {
  socket: Socket
  /** Everything the server sent so far. */
  received(): string
  /** Resolves with the ms since connecting once the server closes, or 'open' after `ms`. */
  closedWithin(ms: number): Promise<number | 'open'>
  /** Resolves once `count` status lines arrived, or after `ms` with what came. */
  answers(count: number, ms: number): Promise<string[]>
  destroy(): void
}

export function rawConnection(port: number, payload: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    let text = ''
    let closedAt: number | undefined
    const waiters = new Set<() => void>()
    const wake = () => {
      for (const waiter of waiters) waiter()
    }
    const socket = connect(port, '127.0.0.1', () => {
      if (payload) socket.write(payload)
      resolve(connection)
    })
    socket.on('data', (data) => {
      text += data.toString('latin1')
      wake()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      closedAt = Date.now()
      wake()
    })
    socket.once('error', reject)
    // Not anchored to a line start: an answer with a Content-Length body need not end in a
    // newline, and the next answer's status line then follows its last byte.
    const statusLines = () => text.match(/HTTP\/1\.[01] \d{3}[^\r\n]*/g) ?? []
    /** Waits, at most `ms`, until `done()`. */
    const until = (done: () => boolean, ms: number) =>
      new Promise<void>((settle) => {
        if (done()) return settle()
        const check = () => {
          if (!done()) return
          clearTimeout(timer)
          waiters.delete(check)
          settle()
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          settle()
        }, ms)
        waiters.add(check)
      })
    const connection: RawConnection = {
      socket,
      received: () => text,
      async closedWithin(ms) {
        await until(() => closedAt !== undefined, ms)
        return closedAt === undefined ? 'open' : closedAt - started
      },
      async answers(count, ms) {
        await until(() => statusLines().length >= count || closedAt !== undefined, ms)
        return statusLines()
      },
      destroy: () => socket.destroy(),
    }
  })
}

/** `GET /health` as a client that keeps the connection open. */
export const HEALTH_REQUEST = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'

/** A chat request whose body stops after `sent` of the `declared` bytes. */
export function stalledBodyRequest(declared: number, sent: number): string {
  return `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n${'{'.padEnd(sent, ' ')}`
}
