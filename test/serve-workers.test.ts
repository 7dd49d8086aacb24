/**
 * `serve --workers N`: N processes (the compiled binary) answer on one port and share one account
 * pool; a token refresh still happens once; SIGTERM drains them all and leaves no process behind;
 * the port is still never shared with anything but the serve's own workers.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { parseWorkers } from '../src/commands/_workers.ts'
import { resolveCommand } from '../src/commands/_tree.ts'
import { renderHelp } from '../src/commands/_usage.ts'
import { expireStoredTokens } from './helpers/accounts.ts'
import { runCli } from './helpers/cli.ts'
import { chatRequest, loginAs, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { killAll, spawnServe, type Served } from './helpers/serve-instances.ts'

let fx: ProxyFixture | undefined
const children: ChildProcess[] = []
const servers: Server[] = []
afterEach(async () => {
  // SIGTERM, awaited: the primary exits after its workers, which write their counters into the
  // home as they stop; SIGKILL would leave them writing while the home is removed.
  await Promise.all(children.map((child) => stopped(child)))
  await killAll(children)
  for (const server of servers.splice(0)) server.close()
  await fx?.cleanup()
  fx = undefined
})

function startWorkers(fixture: ProxyFixture, count: number, args: string[] = []): Promise<Served> {
  return spawnServe(['--workers', String(count), ...args], { home: fixture.home, env: { QWENAUTH_OAUTH_URL: fixture.emu.url }, runtime: 'binary', children })
}

/** One request on a connection of its own (no keep-alive), so the kernel picks a worker for each. */
function freshRequest(url: string, method = 'GET', body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** SIGTERM and the exit, or SIGKILL after 10 s. */
function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** The worker pids the primary names once all of them listen. */
function workerPids(served: Served): number[] {
  const match = /workers answer on \S+ \(pids ([\d, ]+)\)/.exec(served.stderr())
  return (match?.[1] ?? '').split(', ').map(Number).filter(Boolean)
}

/**
 * Whether the process still runs. A zombie does not: it has exited and waits to be reaped by
 * whoever adopted it (init, which in some containers reaps only every second or so).
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    // Gone meanwhile (or, were there no /proc, as kill(0) said).
    return !existsSync('/proc')
  }
}

const chatBody = async () => (await chatRequest({}).text())

describe('serve --workers', () => {
  it('checks its value and says so in --help', async () => {
    fx = await proxyFixture()
    // The values, by the function serve checks them with; one of them also as a process, for
    // the exit code and the one line (serve cannot run in this shared test process).
    for (const value of ['0', '65', 'two', '1.5']) {
      expect(() => parseWorkers(value), value).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/--workers needs a number from 1 to 64, or auto \(one per core\)/) }))
    }
    const result = await runCli(['serve', '--port', '0', '--workers', '0'], { home: fx.home })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--workers needs a number from 1 to 64, or auto \(one per core\), got 0$/)])
    expect(result.stdout).toBe('')
    expect(await renderHelp(await resolveCommand(['serve']), { isTTY: false })).toMatch(/--workers/)
    const keyless = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--workers', '2'], { home: fx.home, runtime: 'binary' })
    expect(keyless.code).toBe(2)
    expect(keyless.stderr.match(/refusing to listen on 0\.0\.0\.0 without an API key/g)).toHaveLength(1)
  })

  it('N workers answer on one port, each a process of its own', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'workers@example.com')
    const served = await startWorkers(fx, 2)
    const pids = workerPids(served)
    expect(pids).toHaveLength(2)
    expect(pids).not.toContain(served.child.pid)
    const origin = served.baseUrl.replace(/\/v1$/, '')
    // Each on a new connection: the kernel spreads connections over the workers (with 40 of
    // them, all landing on one of two workers would be a 1 in 2^39 chance).
    const seen = new Set<number>()
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const health = JSON.parse((await freshRequest(`${origin}/health`)).text) as { worker?: { index: number; count: number } }
      expect(health.worker?.count).toBe(2)
      seen.add(health.worker?.index ?? 0)
    }
    expect([...seen].sort()).toEqual([1, 2])
    const chat = await freshRequest(`${served.baseUrl}/chat/completions`, 'POST', await chatBody())
    expect(chat.status).toBe(200)
    // One set of notes, from the first worker, and one URL on stdout.
    expect(served.stderr().match(/OpenAI-compatible base URL/g)).toHaveLength(1)
  })

  it('an expired token is refreshed once for all workers', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'refresh@example.com')
    const served = await startWorkers(fx, 2)
    expireStoredTokens(fx.home)
    const body = await chatBody()
    // 24 at once, each on its own connection, so both workers meet the expired token together.
    const answers = await Promise.all(Array.from({ length: 24 }, () => freshRequest(`${served.baseUrl}/chat/completions`, 'POST', body)))
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
    expect(fx.emu.stats.refreshes).toBe(1)
    // Log lines go out at the end of the worker's event-loop turn, a moment after the answers.
    const logged = () => served.stderr().match(/POST \/v1\/chat\/completions refresh@example\.com 200/g)?.length ?? 0
    await waitFor(() => logged() >= 24, 5000, 'the 24 request log lines')
    expect(logged()).toBe(24)
  })

  it('SIGTERM lets requests in flight finish, then every worker exits; killing the primary leaves no worker behind', async () => {
    fx = await proxyFixture()
    await loginAs(fx, 'drain@example.com')
    const served = await startWorkers(fx, 2)
    const pids = workerPids(served)
    fx.emu.delayNextResponse(800)
    const slow = freshRequest(`${served.baseUrl}/chat/completions`, 'POST', await chatBody())
    await waitFor(() => fx?.emu.requests.length === 1, 3000, 'the slow request upstream')
    served.child.kill('SIGTERM')
    expect((await slow).status).toBe(200)
    expect(await served.exited).toBe(0)
    for (const pid of pids) expect(alive(pid), `worker ${pid}`).toBe(false)

    const killed = await startWorkers(fx, 2)
    const orphans = workerPids(killed)
    expect(orphans).toHaveLength(2)
    killed.child.kill('SIGKILL')
    await waitFor(() => orphans.every((pid) => !alive(pid)), 8000, 'the workers to stop after their primary died')
  })

  it('refuses a port another program holds, and a plain serve cannot join the workers', async () => {
    fx = await proxyFixture()
    const holder = createServer()
    servers.push(holder)
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: 0 }, resolve))
    const held = (holder.address() as { port: number }).port
    const refused = await runCli(['serve', '--port', String(held), '--workers', '2'], { home: fx.home, runtime: 'binary' })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${held}: the port is in use`))

    const served = await startWorkers(fx, 2)
    const port = new URL(served.baseUrl).port
    for (const runtime of ['binary', 'node'] as const) {
      const second = await runCli(['serve', '--port', port], { home: fx.home, runtime })
      expect(second.code, runtime).toBe(2)
      expect(second.stderr).toMatch(/cannot listen on 127\.0\.0\.1/)
    }
    const again = await runCli(['serve', '--port', port, '--workers', '2'], { home: fx.home, runtime: 'binary' })
    expect(again.code).toBe(2)
  })
})
