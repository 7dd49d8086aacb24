import { oneLine } from '../lib/one-line.ts'
import { redact } from '../lib/redact.ts'
import type { Usage } from './relay.ts'

const SECRET_HEADERS = new Set(['authorization', 'x-api-key', 'proxy-authorization', 'cookie'])

/** Request headers for `--verbose`, with every credential replaced. */
export function redactedHeaders(headers: Headers): string {
  const out: Record<string, string> = {}
  for (const [name, value] of headers) out[name] = SECRET_HEADERS.has(name) ? '[redacted]' : redact(value)
  return JSON.stringify(out)
}

/**
 * One request's line in the log: method, path, the account that served it, status, duration,
 * tokens, and the accounts it failed over from. Written once, when the answer (or the stream)
 * is over; `onEnd` gets the line and the record, whose outcome is then known in full (the
 * metrics and the status page's recent requests are fed from there).
 */
export class RequestRecord {
  accountLabel: string | undefined
  accountId: string | undefined
  usage: Usage | undefined
  /** `label: reason` for every account that was tried and failed (the line is made one line as a whole, in `end`). */
  readonly failovers: string[] = []
  /** Set when a stream carries the answer on: the stream ends the record. */
  deferred = false
  /** The route as matched, `unknown` for none: a label with few values, unlike the path. */
  route = 'unknown'
  /** The client's protocol (`openai`, …); `-` for qwenauth's own routes. */
  protocol = '-'
  /** False for the status page's polls and metrics scrapes: they would fill the log. */
  logged = true
  /** False for qwenauth's own GET routes (health checks, scrapes, the page): not client traffic. */
  counted = true
  /** What qwenauth did on this request, for the log line (the status page's actions). */
  note: string | undefined
  /** When the latest upstream request was sent and its head arrived (performance.now()). */
  upstreamSentAt = 0
  upstreamHeadAt = 0
  private ended = false
  private readonly startedAt = performance.now()

  constructor(
    private readonly onEnd: (record: RequestRecord, status: number | string, line: string) => void,
    readonly method: string,
    readonly path: string,
  ) {}

  get elapsedMs(): number {
    return performance.now() - this.startedAt
  }

  end(status: number | string, note = this.note): void {
    if (this.ended) return
    this.ended = true
    const parts = [this.method, this.path, this.accountLabel ?? '-', String(status), `${Math.round(this.elapsedMs)}ms`]
    if (this.usage) parts.push(`${this.usage.promptTokens}+${this.usage.completionTokens} tokens`)
    if (this.failovers.length > 0) parts.push(`(failed over from ${this.failovers.join('; ')})`)
    if (note) parts.push(note)
    // Redacted first (the patterns need the text as it was), then one line: an upstream's words
    // in a failover reason, or the path, must not start a line of their own or reach a terminal.
    this.onEnd(this, status, oneLine(redact(parts.join(' '))))
  }
}
