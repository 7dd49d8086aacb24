import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CLI tests spawn real processes; two cores, so keep the fan-out modest.
    maxWorkers: 2,
  },
})
