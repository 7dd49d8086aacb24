import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { COMPILE_FLAGS, NODE_BUNDLE_FLAGS } from '../../scripts/release-targets.ts'

const root = resolve(import.meta.dirname, '../..')

/**
 * Builds what ships (the Node bundle and the compiled binary) once per run, into a directory of
 * this run's own so parallel runs never clobber each other. Tests spawn those, not the sources.
 * Every project of vitest.config.ts runs this setup; they share the one build (the setups run
 * in vitest's main process, one global scope).
 */
export default async function setup(project: TestProject) {
  const shared = globalThis as typeof globalThis & { qwenauthBuild?: Promise<string> }
  const out = await (shared.qwenauthBuild ??= build())
  project.provide('nodeCli', join(out, 'node', 'cli.mjs'))
  project.provide('binaryCli', join(out, 'qwenauth'))
  return () => rmSync(out, { recursive: true, force: true })
}

async function build(): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'qwenauth-build-'))
  const bun = join(root, 'node_modules/.bin/bun')
  const bunBuild = (args: string[]) =>
    new Promise<void>((resolveBuild, reject) => {
      const child = spawn(bun, ['build', join(root, 'src/cli.ts'), ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      child.on('error', reject)
      child.on('close', (code) => (code === 0 ? resolveBuild() : reject(new Error(`test build failed: ${stderr}`))))
    })
  // Side by side: each is a few seconds of one core.
  await Promise.all([
    bunBuild([...NODE_BUNDLE_FLAGS, `--outdir=${join(out, 'node')}`]),
    bunBuild([...COMPILE_FLAGS, `--outfile=${join(out, 'qwenauth')}`]),
  ])
  return out
}

declare module 'vitest' {
  export interface ProvidedContext {
    nodeCli: string
    binaryCli: string
  }
}
