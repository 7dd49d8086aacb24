import type { ChildProcess } from 'node:child_process'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { spawnCli, type CliOptions } from './cli.ts'
import { proxyFixture, type ProxyFixture } from './proxy-fixtures.ts'
import { startRedis, type RedisServer } from './redis.ts'

/** One `qwenauth serve` process, as one instance behind a load balancer. */
export interface Instance extends Served {
  name: string
}

export interface InstanceOptions {
  home: string
  env: Record<string, string>
  /** Every spawned process is added here, so the test can kill what is left. */
  children: ChildProcess[]
}

/** A `qwenauth serve` process that has printed its base URL (its ready signal). */
export interface Served {
  child: ChildProcess
  baseUrl: string
  stderr: () => string
  /** The exit code (null when a signal ended it). */
  exited: Promise<number | null>
}

/** Spawns `qwenauth serve --port 0 …args` and waits (10 s at most) for the base URL it prints. */
export async function spawnServe(args: string[], options: CliOptions & { children: ChildProcess[]; name?: string }): Promise<Served> {
  const name = options.name ?? 'serve'
  const child = spawnCli(['serve', '--port', '0', ...args], options)
  options.children.push(child)
  child.stdin?.end()
  let stdout = ''
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} printed no URL\nstdout: ${stdout}\nstderr: ${stderr}`)), 10_000)
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      const match = /^(http:\/\/127\.0\.0\.1:\d+\/v1)$/m.exec(stdout)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    void exited.then((code) => reject(new Error(`${name} exited with ${code}\nstderr: ${stderr}`)))
  })
  return { child, baseUrl, stderr: () => stderr, exited }
}

/** One instance behind a load balancer, named for the test's messages. */
export async function startServe(name: string, options: InstanceOptions): Promise<Instance> {
  return { name, ...(await spawnServe([], { ...options, name })) }
}

/** `count` instances named A, B, C… */
export function startServes(count: number, options: InstanceOptions): Promise<Instance[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startServe(String.fromCharCode(65 + i), options)))
}

/**
 * Processes a test spawns and undo steps it registers (latest first), all ended after each
 * test of the file that calls this.
 */
export function endedAfterEachTest(): { children: ChildProcess[]; cleanups: Array<() => Promise<void>> } {
  const children: ChildProcess[] = []
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    await killAll(children)
    for (const undo of cleanups.splice(0).reverse()) await undo()
  })
  return { children, cleanups }
}

/**
 * The same for one test that may run side by side with others of its file (`it.concurrent`):
 * ended when that test finishes. Pass the test context's `onTestFinished`.
 */
export function endedWithTest(onTestFinished: (fn: () => Promise<void>) => void): { children: ChildProcess[]; cleanups: Array<() => Promise<void>> } {
  const children: ChildProcess[] = []
  const cleanups: Array<() => Promise<void>> = []
  onTestFinished(async () => {
    await killAll(children)
    for (const undo of cleanups.splice(0).reverse()) await undo()
  })
  return { children, cleanups }
}

/**
 * What one test that may run side by side with others of its file holds: an emulator and home,
 * and the processes and undo steps it registers, all ended when that test finishes (the fixture
 * last). Pass the test's context.
 */
export interface TestScope {
  fx: ProxyFixture
  children: ChildProcess[]
  cleanups: Array<() => Promise<void>>
}

export async function testScope({ onTestFinished }: { onTestFinished: (fn: () => Promise<void>) => void }): Promise<TestScope> {
  const fx = await proxyFixture()
  // Registered first, so it runs last: the processes and stubs go before the emulator.
  onTestFinished(() => fx.cleanup())
  return { fx, ...endedWithTest(onTestFinished) }
}

/** SIGKILLs every child still running and waits for the exits. */
export async function killAll(children: ChildProcess[]): Promise<void> {
  const exits = children.splice(0).map((child) => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    const exit = new Promise<void>((r) => child.once('exit', () => r()))
    child.kill('SIGKILL')
    return exit
  })
  await Promise.all(exits)
}

export interface Answer {
  status: number
  text: string
}

export async function chat(instance: Instance): Promise<Answer> {
  const res = await fetch(`${instance.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }] }),
  })
  return { status: res.status, text: await res.text() }
}

/**
 * `count` requests spread round-robin over the instances, at most `inFlight` at a time;
 * `afterEach(done)` runs after every answer with the number answered so far.
 */
export async function spread(instances: Instance[], count: number, inFlight: number, afterEach: (done: number) => void = () => {}): Promise<Answer[]> {
  const answers: Answer[] = []
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      answers[i] = await chat(instances[i % instances.length]!)
      afterEach(++done)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  return answers
}

/** Lines of an instance's log that match. */
export function linesOf(instance: Instance, pattern: RegExp): string[] {
  return instance.stderr().split('\n').filter((line) => pattern.test(line))
}

/**
 * What tests of `serve` instances on a real Redis share, set up by the hooks this registers (call
 * it inside the describe): one redis-server for the file, and per test a database of its own (no
 * test sees another's keys), a fixture on it, and the spawned processes killed at its end.
 */
export interface RedisServes {
  readonly fx: ProxyFixture
  readonly redis: RedisServer
  readonly children: ChildProcess[]
  /** The test's database, as QWENAUTH_STORAGE names it. */
  storeUrl(): string
}

export function redisServes(): RedisServes {
  let redis: RedisServer | undefined
  let fx: ProxyFixture | undefined
  let db = 0
  const children: ChildProcess[] = []
  const shared: RedisServes = {
    get fx() {
      if (!fx) throw new Error('no fixture outside a test')
      return fx
    },
    get redis() {
      if (!redis) throw new Error('redis-server is not running')
      return redis
    },
    children,
    storeUrl: () => `${shared.redis.url}/${db}`,
  }
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  beforeEach(async () => {
    db++
    fx = await proxyFixture({}, shared.storeUrl())
  })
  afterEach(async () => {
    await killAll(children)
    await fx?.cleanup()
  })
  return shared
}
