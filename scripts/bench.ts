/**
 * `npm run bench`: every bench section in one run, each printed as a Markdown block (tables with
 * ratios) ready for the README. Sections are modules in scripts/bench/; add one to SECTIONS.
 *
 *   bun scripts/bench.ts              all sections
 *   bun scripts/bench.ts proxy serve  only the named sections
 */
export interface BenchSection {
  name: string
  /** Runs the measurements and returns the section's Markdown; progress goes to `log`. */
  run(log: (line: string) => void): Promise<string>
}

const SECTIONS: BenchSection[] = [
  { name: 'proxy', run: async (log) => (await import('./bench/proxy.ts')).proxySection({ log }) },
  { name: 'serve', run: async (log) => (await import('./bench/serve.ts')).serveSection({ log }) },
  { name: 'streams', run: async (log) => (await import('./bench/streams.ts')).streamsSection({ log }) },
  { name: 'startup', run: async (log) => (await import('./bench/startup.ts')).startupSection({ log }) },
  { name: 'soak', run: async (log) => (await import('./bench/soak.ts')).soakSection({ log }) },
  { name: 'exec', run: async (log) => (await import('./bench/exec.ts')).execSection({ log }) },
]

const wanted = process.argv.slice(2)
const unknown = wanted.filter((name) => !SECTIONS.some((s) => s.name === name))
if (unknown.length > 0) {
  console.error(`unknown bench section ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.name).join(', ')}`)
  process.exit(2)
}

const log = (line: string) => console.error(`[bench] ${line}`)
const started = performance.now()
for (const section of SECTIONS) {
  if (wanted.length > 0 && !wanted.includes(section.name)) continue
  const sectionStarted = performance.now()
  const markdown = await section.run(log)
  process.stdout.write(`${markdown}\n`)
  log(`${section.name}: ${((performance.now() - sectionStarted) / 1000).toFixed(1)} s`)
}
log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
