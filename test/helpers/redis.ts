import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/** Whether a real redis-server is installed (CI installs it from Debian). */
export const hasRedis = spawnSync('redis-server', ['--version']).status === 0
if (!hasRedis && process.env.QWENAUTH_REQUIRE_REDIS) {
  throw new Error('redis-server is not installed, and QWENAUTH_REQUIRE_REDIS says the Redis tests must run')
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

async function ping(port: number): Promise<boolean> {
  const { createConnection } = await import('node:net')
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('error', () => resolve(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (d) => {
      socket.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
  })
}

export interface RedisServer {
  url: string
  port: number
  stop(): Promise<void>
  start(): Promise<void>
}

/** A throwaway redis-server on 127.0.0.1 with no persistence; `stop`/`start` keep the port. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    for (let i = 0; i < 100; i++) {
      if (await ping(port)) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error('redis-server did not start within 5 s')
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const closed = new Promise((r) => c.once('close', r))
    c.kill('SIGKILL')
    await closed
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, port, stop, start }
}
