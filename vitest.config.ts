import { readFileSync } from 'node:fs'
import { defineConfig } from 'vitest/config'

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
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CLI tests spawn real processes; two cores, so keep the fan-out modest.
    maxWorkers: 2,
  },
})
