/**
 * Builds qwenauth.
 *   bun scripts/build.ts          the Node bundle (npm `bin`) and the binary for this machine
 *   bun scripts/build.ts --all    also every release target (needs Bun's download of each
 *                                 target's runtime, so it runs in the release workflow)
 * Each binary gets a line in dist/sha256sums.txt.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { join } from 'pathe'
import pkg from '../package.json' with { type: 'json' }

const root = join(import.meta.dirname, '..')
const dist = join(root, 'dist')
const entry = join(root, 'src/cli.ts')
const bun = process.execPath

export const RELEASE_TARGETS = [
  'bun-linux-x64',
  'bun-linux-arm64',
  'bun-linux-x64-musl',
  'bun-linux-arm64-musl',
  'bun-darwin-x64',
  'bun-darwin-arm64',
  'bun-windows-x64',
] as const

function run(args: string[]): void {
  const result = spawnSync(bun, args, { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`bun ${args.join(' ')} failed with ${result.status}`)
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

async function buildNodeBundle(): Promise<void> {
  const out = join(dist, 'node/cli.mjs')
  run(['build', entry, '--target=node', '--format=esm', '--minify-syntax', '--minify-whitespace', `--outfile=${out}`])
  // The bin needs its shebang first; Node ignores it on import.
  const code = (await readFile(out, 'utf8')).replace(/^#!.*\n/, '')
  await writeFile(out, `#!/usr/bin/env node\n${code}`, { mode: 0o755 })
}

async function buildBinary(target: string | undefined, outfile: string): Promise<string> {
  run(['build', entry, '--compile', '--minify', ...(target ? [`--target=${target}`] : []), `--outfile=${outfile}`])
  return outfile
}

async function main(): Promise<void> {
  const all = process.argv.includes('--all')
  await rm(dist, { recursive: true, force: true })
  await mkdir(dist, { recursive: true })
  await buildNodeBundle()
  const binaries = [await buildBinary(undefined, join(dist, 'qwenauth'))]
  if (all) {
    for (const target of RELEASE_TARGETS) {
      const name = `qwenauth-${pkg.version}-${target.replace(/^bun-/, '')}${target.includes('windows') ? '.exe' : ''}`
      binaries.push(await buildBinary(target, join(dist, name)))
    }
  }
  const sums: string[] = []
  for (const path of binaries) {
    const file = path.endsWith('.exe') || (await stat(path).catch(() => undefined)) ? path : `${path}.exe`
    sums.push(`${await sha256(file)}  ${file.slice(dist.length + 1)}`)
  }
  await writeFile(join(dist, 'sha256sums.txt'), `${sums.join('\n')}\n`)
  console.error(`built ${binaries.length} binar${binaries.length === 1 ? 'y' : 'ies'} and the Node bundle in dist/`)
}

await main()
