/**
 * install.sh against a fake GitHub release served from 127.0.0.1: it must pick this machine's
 * asset (named as in scripts/release-targets.ts), verify it against sha256sums.txt, and leave
 * nothing behind when the checksum does not match.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RELEASE_TARGETS, SUMS_FILE } from '../scripts/release-targets.ts'
import pkg from '../package.json' with { type: 'json' }

const installer = resolve(import.meta.dirname, '../install.sh')
const supported = process.platform === 'linux' || process.platform === 'darwin'

/** The asset install.sh should choose here, spelled the way the release table spells it. */
function hostAsset(): string {
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime
  const musl = process.platform === 'linux' && !glibc
  const name = `qwenauth-${process.platform}-${process.arch}${musl ? '-musl' : ''}`
  if (!RELEASE_TARGETS.some((t) => t.asset === name)) throw new Error(`${name} is not a release asset`)
  return name
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex')

let root: string
let server: Server
let baseUrl: string
const requested: string[] = []

/** Puts one release at root/<urlPath>/ with the given binary and a sums file (optionally lying). */
function publish(urlPath: string, binary: Buffer, options: { wrongSum?: boolean } = {}): void {
  const dir = join(root, urlPath)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, hostAsset()), binary)
  const sum = options.wrongSum ? sha256('something else') : sha256(binary)
  // Other assets' lines around ours, as in a real release.
  const lines = RELEASE_TARGETS.map((t) => `${t.asset === hostAsset() ? sum : sha256(t.asset)}  ${t.asset}`)
  writeFileSync(join(dir, SUMS_FILE), `${lines.join('\n')}\n`)
}

function runInstaller(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env = { ...process.env, QWENAUTH_INSTALL_BASE_URL: baseUrl, QWENAUTH_INSTALL_DIR: undefined }
  const child = spawn('sh', [installer, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  return new Promise((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', fail)
    child.on('close', (code) => {
      clearTimeout(timer)
      done({ code, stderr })
    })
  })
}

describe.skipIf(!supported)('install.sh', () => {
  // Releases of small stand-ins that answer --version as the real binary does: what install.sh
  // does with a binary does not depend on its size, and the compiled binary (about 110 MB) would
  // be read, hashed, served and copied for each release. cli-entry.test.ts runs the real one.
  const latest = Buffer.from(`#!/bin/sh\necho ${pkg.version}\n`)
  const binary = () => latest
  const fakeOldVersion = Buffer.from('#!/bin/sh\necho 0.0.9\n')

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'qwenauth-release-'))
    publish('latest/download', binary())
    publish('download/v0.0.9', fakeOldVersion)
    publish('download/v6.6.6', binary(), { wrongSum: true })
    server = createServer((req, res) => {
      requested.push(req.url ?? '')
      const file = join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))
      if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end()
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file))
    })
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  /** Every install directory a test made. */
  const made: string[] = []
  afterAll(async () => {
    await new Promise((closed) => server?.close(closed))
    for (const dir of [root, ...made]) rmSync(dir, { recursive: true, force: true })
  })

  const installDir = () => {
    const top = mkdtempSync(join(tmpdir(), 'qwenauth-install-'))
    made.push(top)
    return join(top, 'nested', 'bin')
  }

  it('installs the latest release for this platform after checking its sha256', async () => {
    const dir = installDir()
    const result = await runInstaller(['--dir', dir])
    expect(result.stderr).toContain(`installed qwenauth ${pkg.version} to ${dir}/qwenauth`)
    expect(result.code).toBe(0)
    expect(requested).toContain(`/latest/download/${hostAsset()}`)
    const installed = join(dir, 'qwenauth')
    expect(sha256(readFileSync(installed))).toBe(sha256(binary()))
    expect(statSync(installed).mode & 0o111).toBeTruthy()
    expect(readdirSync(dir)).toEqual(['qwenauth'])
  })

  it('installs a named release with --version (with or without the v)', async () => {
    for (const version of ['v0.0.9', '0.0.9']) {
      const dir = installDir()
      const result = await runInstaller(['--version', version, '--dir', dir])
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr).toContain('installed qwenauth 0.0.9')
      expect(readFileSync(join(dir, 'qwenauth'))).toEqual(fakeOldVersion)
    }
    expect(requested).toContain(`/download/v0.0.9/${hostAsset()}`)
  })

  it('refuses a binary whose checksum does not match and leaves the old one in place', async () => {
    const dir = installDir()
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'qwenauth'), fakeOldVersion)
    chmodSync(join(dir, 'qwenauth'), 0o755)
    const result = await runInstaller(['--version=v6.6.6', `--dir=${dir}`])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(new RegExp(`checksum mismatch for ${hostAsset()} \\(expected [0-9a-f]{64}, got ${sha256(binary())}\\); nothing was installed`))
    expect(readdirSync(dir)).toEqual(['qwenauth'])
    expect(readFileSync(join(dir, 'qwenauth'))).toEqual(fakeOldVersion)
  })

  it('fails clearly for a release that does not exist, installing nothing', async () => {
    const dir = installDir()
    const result = await runInstaller(['--version', 'v9.9.9', '--dir', dir])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(`could not download ${baseUrl}/download/v9.9.9/${SUMS_FILE}`)
    expect(existsSync(join(dir, 'qwenauth'))).toBe(false)
  })
})
