/**
 * A bounded HTTP load loop for the bench sections: a fixed number of requests, a few in flight
 * at once, stopped early at a time limit; every body read to the end, chunk arrivals timed.
 */
interface Sample {
  totalMs: number
  ttfbMs: number
  /** Arrival times of body chunks, for the event pacing figure. */
  arrivals: number[]
}

export interface RunFigures {
  requests: number
  rps: number
  p50: number
  p99: number
  ttfbP50: number
  /** Mean time between streamed chunks after the first. */
  eventGap: number
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0

function figures(samples: Sample[], elapsedMs: number): RunFigures {
  const totals = samples.map((s) => s.totalMs).sort((a, b) => a - b)
  const ttfbs = samples.map((s) => s.ttfbMs).sort((a, b) => a - b)
  const gaps = samples.flatMap((s) => s.arrivals.slice(1).map((t, i) => t - (s.arrivals[i] ?? t)))
  return {
    requests: samples.length,
    rps: (samples.length / elapsedMs) * 1000,
    p50: percentile(totals, 0.5),
    p99: percentile(totals, 0.99),
    ttfbP50: percentile(ttfbs, 0.5),
    eventGap: gaps.length > 0 ? gaps.reduce((a, b) => a + b, 0) / gaps.length : 0,
  }
}

async function timedRequest(url: string, init: RequestInit): Promise<Sample> {
  const started = performance.now()
  const res = await fetch(url, init)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const arrivals: number[] = []
  for (;;) {
    const { done } = await reader.read()
    if (done) break
    arrivals.push(performance.now())
  }
  if (!res.ok) throw new Error(`${url} answered ${res.status}`)
  const totalMs = performance.now() - started
  return { totalMs, ttfbMs: (arrivals[0] ?? started + totalMs) - started, arrivals }
}

/** `count` requests, `concurrency` at a time, stopping early after `maxMs`. */
export async function load(url: string, init: RequestInit, count: number, concurrency: number, maxMs: number): Promise<RunFigures> {
  const samples: Sample[] = []
  const started = performance.now()
  let issued = 0
  const worker = async () => {
    while (issued < count && performance.now() - started < maxMs) {
      issued++
      samples.push(await timedRequest(url, init))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return figures(samples, performance.now() - started)
}

