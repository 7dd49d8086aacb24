/**
 * The bench's floor for `serve`: the least a relay on Bun can do that still sees every answer,
 * as qwenauth must to count tokens. Bun.serve takes the request, Bun's fetch sends it on with the
 * client's own headers, a JSON answer is read whole and a stream is passed on chunk by chunk
 * through a JavaScript reader; no routing, accounts, limits, log or counters. What `serve` costs
 * beyond this is qwenauth's own work; what this costs beyond nginx is the runtime's.
 *
 *   UPSTREAM=http://127.0.0.1:port bun scripts/bench/bare-relay.ts   prints its http://host:port
 */
const upstream = process.env.UPSTREAM ?? ''
if (!upstream) throw new Error('UPSTREAM (the origin to relay to) is not set')

/** What this script uses of Bun (Bun's own types are not installed). */
declare const Bun: {
  serve(options: { hostname: string; port: number; development: boolean; fetch(request: Request): Promise<Response> }): { port: number }
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding', 'content-length', 'date', 'server'])

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  development: false,
  async fetch(request) {
    const url = request.url
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.text()
    const answer = await fetch(upstream + url.slice(url.indexOf('/', url.indexOf('://') + 3)), { method: request.method, headers: request.headers, body, redirect: 'manual' })
    const headers = new Headers()
    for (const [name, value] of answer.headers) if (!HOP_HEADERS.has(name)) headers.append(name, value)
    if (!answer.body || !(answer.headers.get('content-type') ?? '').includes('text/event-stream')) {
      return new Response(await answer.arrayBuffer(), { status: answer.status, headers })
    }
    const reader = answer.body.getReader()
    const relayed = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await reader.read()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      cancel: (reason) => reader.cancel(reason),
    })
    return new Response(relayed, { status: answer.status, headers })
  },
})
console.log(`http://127.0.0.1:${server.port}`)
