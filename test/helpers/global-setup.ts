import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { COMPILE_FLAGS, NODE_BUNDLE_FLAGS } from '../../scripts/release-targets.ts'

const root = resolve(import.meta.dirname, '../..')

/**
 * Builds what ships (the Node bundle and the compiled binary) once per run, into a directory of
 * this run's own so parallel runs never clobber each other. Tests spawn those, not the sources.
 */
export default function setup(project: TestProject) {
  const out = mkdtempSync(join(tmpdir(), 'qwenauth-build-'))
  const bun = join(root, 'node_modules/.bin/bun')
  const build = (args: string[]) => {
    const result = spawnSync(bun, ['build', join(root, 'src/cli.ts'), ...args], { cwd: root, encoding: 'utf8' })
    if (result.status !== 0) throw new Error(`test build failed: ${result.stderr}`)
  }
  build([...NODE_BUNDLE_FLAGS, `--outdir=${join(out, 'node')}`])
  build([...COMPILE_FLAGS, `--outfile=${join(out, 'qwenauth')}`])
  project.provide('nodeCli', join(out, 'node', 'cli.mjs'))
  project.provide('binaryCli', join(out, 'qwenauth'))
  return () => rmSync(out, { recursive: true, force: true })
}

declare module 'vitest' {
  export interface ProvidedContext {
    nodeCli: string
    binaryCli: string
  }
}
