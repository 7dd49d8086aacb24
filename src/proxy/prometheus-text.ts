/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: the whole of it that
 * qwenauth needs is counters, gauges and histograms, and the client library would add a sixth to
 * the npm bundle. test/metrics.test.ts reads the output back with a real parser.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export type MetricType = 'counter' | 'gauge' | 'histogram'

/** Label values by label name, in the order they are written. */
export type Labels = ReadonlyArray<readonly [name: string, value: string]>

/** Collects metric families and writes them in one text document. */
export class PrometheusText {
  private readonly lines: string[] = []

  /** `# HELP` and `# TYPE`: every family's samples follow its header, together. */
  family(name: string, type: MetricType, help: string): this {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`)
    return this
  }

  sample(name: string, labels: Labels, value: number): this {
    this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`)
    return this
  }

  /** One histogram series: cumulative `_bucket`s up to `+Inf`, then `_sum` and `_count`. */
  histogram(name: string, labels: Labels, bounds: readonly number[], counts: ArrayLike<number>, sum: number, count: number): this {
    let cumulative = 0
    bounds.forEach((bound, i) => {
      cumulative += counts[i] ?? 0
      this.sample(`${name}_bucket`, [...labels, ['le', formatValue(bound)]], cumulative)
    })
    this.sample(`${name}_bucket`, [...labels, ['le', '+Inf']], count)
    this.sample(`${name}_sum`, labels, sum)
    return this.sample(`${name}_count`, labels, count)
  }

  toString(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`
  }
}

function labelText(labels: Labels): string {
  if (labels.length === 0) return ''
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`
}

/** Label values escape backslash, double quote and line feed; nothing else needs it. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Go's ParseFloat reads what JavaScript writes, but infinities and NaN have names of their own. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}
