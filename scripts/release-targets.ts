/**
 * The release binaries: which Bun target each is compiled for and the asset name it is uploaded
 * under. install.sh builds the same names from `uname`, so the two must change together
 * (test/install-sh.test.ts checks install.sh against this table).
 *
 * Asset names carry no version so `releases/latest/download/<asset>` always resolves.
 */
export interface ReleaseTarget {
  /** `bun build --compile --target=` value. */
  bunTarget: string
  /** File name in dist/ and in the GitHub release. */
  asset: string
}

export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { bunTarget: 'bun-linux-x64', asset: 'qwenauth-linux-x64' },
  { bunTarget: 'bun-linux-arm64', asset: 'qwenauth-linux-arm64' },
  { bunTarget: 'bun-linux-x64-musl', asset: 'qwenauth-linux-x64-musl' },
  { bunTarget: 'bun-linux-arm64-musl', asset: 'qwenauth-linux-arm64-musl' },
  { bunTarget: 'bun-darwin-x64', asset: 'qwenauth-darwin-x64' },
  { bunTarget: 'bun-darwin-arm64', asset: 'qwenauth-darwin-arm64' },
  { bunTarget: 'bun-windows-x64', asset: 'qwenauth-windows-x64.exe' },
]

/** The file every release carries next to the binaries, in `sha256sum` format. */
export const SUMS_FILE = 'sha256sums.txt'

/**
 * Flags for every compiled binary. `--bytecode` (ESM needs `--format=esm` with it) roughly halves
 * cold start. A compiled Bun program would otherwise load `.env` and `bunfig.toml` from the
 * working directory, letting any directory a user runs `qwenauth` in change QWEN_HOME or the
 * OAuth endpoint behind their back, so both are switched off.
 */
export const COMPILE_FLAGS = [
  '--compile',
  '--minify',
  '--bytecode',
  '--format=esm',
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
] as const

/**
 * Flags for the Node bundle (with `--outdir`): `cli.mjs`, the npm `bin`, and chunks it imports
 * when a command needs them. Split, a start parses only what it runs: the token counter's 1 MB
 * table (count_tokens) and the sub-commands are loaded on first use. Whitespace and syntax
 * minified only: readable identifiers keep stack traces from users useful.
 */
export const NODE_BUNDLE_FLAGS = [
  '--target=node',
  '--format=esm',
  '--minify-syntax',
  '--minify-whitespace',
  '--splitting',
  '--entry-naming=cli.mjs',
  '--chunk-naming=chunks/[name]-[hash].mjs',
] as const
