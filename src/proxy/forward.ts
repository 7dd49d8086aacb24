import { tryAccount } from './attempt.ts'
import { exhaustedResponse } from './exhausted.ts'
import { openaiError } from './errors.ts'
import type { RequestRecord } from './request-log.ts'
import type { AttemptFailure, ProxyState } from './state.ts'
import type { UpstreamCall } from './upstream.ts'

/**
 * Sends a request to the pool's accounts in order until one answers. Quota, 401 and not-served
 * failures move on at once (each marks its account, so the list is finite); 5xx and network
 * errors move on too, but only `maxTransientRetries` times.
 */
export async function forward(state: ProxyState, call: UpstreamCall, signal: AbortSignal | undefined, record: RequestRecord): Promise<Response> {
  const failures: AttemptFailure[] = []
  const tried = new Set<string>()
  let transient = 0
  for (;;) {
    if (signal?.aborted) return clientGone()
    const account = (await state.pool.candidates()).find((a) => !tried.has(a.id))
    if (!account) break
    tried.add(account.id)
    const result = await tryAccount(state, account, call, signal, record)
    if (result instanceof Response) {
      record.accountLabel = account.label
      return result
    }
    if (signal?.aborted) return clientGone()
    failures.push(result)
    record.failovers.push(`${result.label}: ${result.reason}`)
    if (result.transient && ++transient > state.settings.maxTransientRetries) break
  }
  return exhaustedResponse(await state.pool.accounts(), failures, state.settings.now())
}

/** Nobody reads it; it only ends the record. */
function clientGone(): Response {
  return openaiError(499, 'the client closed the request', 'invalid_request_error', 'client_closed_request')
}
