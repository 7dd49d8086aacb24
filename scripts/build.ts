/**
 * Builds qwenauth.
 *   bun scripts/build.ts          the Node bundle (npm `bin` dist/node/cli.mjs and its chunks) and the binary
 *                                 for this machine (dist/qwenauth)
 *   bun scripts/build.ts --node   the Node bundle only (what `npm pack` ships; run by prepack)
 *   bun scripts/build.ts --all    also every release binary (dist/qwenauth-<os>-<arch>[-musl]);
 *                                 Bun fetches each target's runtime, so this runs in the release
 *                                 workflow rather than in tests
 * dist/sha256sums.txt lists the binaries built (with --all: the release assets only, the file
 * uploaded next to them). The version is package.json's, inlined by the bundler; each build is
 * run once with --version to prove it.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { basename, join } from 'pathe'
import pkg from '../package.json' with { type: 'json' }
import { COMPILE_FLAGS, NODE_BUNDLE_FLAGS, RELEASE_TARGETS, SUMS_FILE } from './release-targets.ts'

const root = join(import.meta.dirname, '..')
const dist = join(root, 'dist')
const entry = join(root, 'src/cli.ts')
const bun = process.execPath

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed with ${result.status ?? result.signal}`)
  return result.stdout
}

/** Fails the build unless the artefact prints package.json's version. */
function checkVersion(command: string, args: string[]): void {
  const printed = run(command, [...args, '--version']).trim()
  if (printed !== pkg.version) throw new Error(`${command} ${args.join(' ')} --version printed "${printed}", expected ${pkg.version}`)
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

async function buildNodeBundle(): Promise<void> {
  const out = join(dist, 'node/cli.mjs')
  await rm(join(dist, 'node'), { recursive: true, force: true })
  run(bun, ['build', entry, ...NODE_BUNDLE_FLAGS, `--outdir=${join(dist, 'node')}`])
  // The bin needs its shebang first; Node ignores it on import.
  const code = (await readFile(out, 'utf8')).replace(/^#!.*\n/, '')
  await writeFile(out, `#!/usr/bin/env node\n${code}`, { mode: 0o755 })
  checkVersion(bun, [out])
}

/** Returns the path written (Bun appends .exe when compiling on Windows for the host). */
function buildBinary(bunTarget: string | undefined, outfile: string): string {
  run(bun, ['build', entry, ...COMPILE_FLAGS, ...(bunTarget ? [`--target=${bunTarget}`] : []), `--outfile=${outfile}`])
  return existsSync(outfile) ? outfile : `${outfile}.exe`
}

async function writeSums(files: string[]): Promise<void> {
  const lines = await Promise.all(files.map(async (file) => `${await sha256(file)}  ${basename(file)}`))
  await writeFile(join(dist, SUMS_FILE), `${lines.join('\n')}\n`)
}

async function main(): Promise<void> {
  const mode = process.argv.includes('--all') ? 'all' : process.argv.includes('--node') ? 'node' : 'host'
  await mkdir(dist, { recursive: true })
  await buildNodeBundle()
  if (mode === 'node') return console.error('built dist/node/cli.mjs')

  const host = buildBinary(undefined, join(dist, 'qwenauth'))
  checkVersion(host, [])
  const released = mode === 'all' ? RELEASE_TARGETS.map((t) => buildBinary(t.bunTarget, join(dist, t.asset))) : []
  await writeSums(mode === 'all' ? released : [host])
  console.error(`built the Node bundle, ${basename(host)}${released.length ? ` and ${released.length} release binaries` : ''} in dist/`)
}

await main()
