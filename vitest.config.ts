import { readFileSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

/**
 * Files that change the process for good, run each in a process of its own: these run `serve`
 * in-process, which switches the log to stamped, buffered lines (written to fd 2 directly, past
 * any spy on process.stderr) for the process's life. helpers/shared-worker-guard.ts fails a
 * shared file that does it.
 */
const ISOLATED = ['test/serve-log.test.ts', 'test/serve-node-client-abort.test.ts', 'test/number-settings.test.ts']

/** The status page's files, imported `with { type: 'text' }` (Bun and Deno do that themselves). */
const TEXT_ASSETS = /\/src\/proxy\/ui\/assets\/[^/]+\.(html|css|js)$/

export default defineConfig({
  plugins: [
    {
      name: 'qwenauth-text-assets',
      enforce: 'pre',
      // A virtual id of its own that does not end in .css, or Vitest's CSS handling would empty it.
      async resolveId(source, importer, options) {
        if (!/\.(html|css|js)$/.test(source)) return null
        const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
        return resolved && TEXT_ASSETS.test(resolved.id) ? `\0text:${resolved.id}.text` : null
      },
      load(id) {
        return id.startsWith('\0text:') ? `export default ${JSON.stringify(readFileSync(id.slice('\0text:'.length, -'.text'.length), 'utf8'))}` : null
      },
    },
  ],
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CLI tests spawn real processes; two cores, so keep the fan-out modest.
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      {
        extends: true,
        // One worker process runs file after file without loading the sources anew for each: a
        // fresh module graph per file cost some 0.7 s of CPU (92 files), more than most files'
        // tests take. The tests restore what they change of the process (environment, timers,
        // spies; see helpers/in-process.ts); what the sources keep at module level (known secrets,
        // caches) is the same for every test.
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false, setupFiles: ['test/helpers/shared-worker-guard.ts'] },
      },
      { extends: true, test: { name: 'isolated', include: ISOLATED, isolate: true } },
    ],
  },
})
