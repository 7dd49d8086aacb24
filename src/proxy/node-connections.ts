import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Node's limits on a client: keep-alive connections close after `ms` idle, headers must arrive
 * within `ms` (else 408 and a close). Its whole-request limit (300 s) is off: a body that stops
 * arriving gets the app's own 408 (body.ts), and a slow but steady upload over 64 KiB is no
 * fault (a smaller one must be whole within the limit, body.ts). Returns what the drain
 * sweeps (closeIdleNodeConnections).
 */
export function limitNodeConnections(server: object | undefined, ms: number): (() => void) | undefined {
  if (!server || !('requestTimeout' in server)) return undefined
  const node = server as NodeServer
  node.requestTimeout = 0
  node.keepAliveTimeout = ms
  node.headersTimeout = ms
  return closeIdleNodeConnections(node)
}

interface NodeServer {
  keepAliveTimeout: number
  headersTimeout: number
  requestTimeout: number
  on(event: 'connection', listener: (socket: Socket) => void): void
  on(event: 'request', listener: (req: IncomingMessage, res: ServerResponse) => void): void
}

/**
 * Node: what `close()` sweeps while it drains: every connection with no request in flight. Node's
 * own closeIdleConnections() passes over a connection that never sent a request (Node's fetch
 * opens one beside a stream it then aborts, and keeps it), which would hold the stop for the
 * whole drain time. (One whose answer was cut Node closes itself.)
 */
function closeIdleNodeConnections(node: NodeServer): () => void {
  const inFlight = new Map<Socket, number>()
  node.on('connection', (socket) => {
    inFlight.set(socket, 0)
    socket.once('close', () => inFlight.delete(socket))
  })
  node.on('request', (req, res) => {
    const socket = req.socket
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1)
    res.once('close', () => {
      const requests = inFlight.get(socket)
      if (requests !== undefined) inFlight.set(socket, requests - 1)
    })
  })
  return () => {
    for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy()
  }
}
