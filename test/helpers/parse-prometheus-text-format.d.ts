declare module 'parse-prometheus-text-format' {
  /** One metric family as the parser gives it (its output follows prom2json's). */
  export interface ParsedFamily {
    name: string
    help: string
    type: string
    metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>
  }
  /** Throws on a line that is not valid text exposition format. */
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[]
}
