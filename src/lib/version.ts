import pkg from '../../package.json' with { type: 'json' }

/** Inlined at build time by the bundler, so the binary needs no package.json beside it. */
export const VERSION: string = pkg.version
