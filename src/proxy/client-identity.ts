import { CODING_AGENTS_ONLY } from '../auth/api-key/providers.ts'
import { proxyError, type Plan, type ProxyError } from './protocols/protocol.ts'

/**
 * Who the client is, as providers see it. qwenauth is a transparent hop: key accounts get the
 * client's own User-Agent (under `exec` the client is the user's agent), so a plan that serves
 * coding agents only, such as Alibaba's Coding Plan, sees the agent, not qwenauth.
 */

/** The plan, with the client's User-Agent on every call it makes. */
export function withClientIdentity(plan: Plan, headers: Headers): Plan {
  const userAgent = headers.get('user-agent') ?? undefined
  if (userAgent === undefined) return plan
  return {
    ...plan,
    callFor(account) {
      const call = plan.callFor(account)
      return call && { ...call, clientUserAgent: userAgent }
    },
  }
}

/**
 * The Coding Plan's answer to a client it does not serve: `405 {"error":"Coding Plan is currently
 * only available for Coding Agents"}` (docs/qwen-protocol.md §8). It refuses that request, not
 * the account: other clients (and other accounts) are served.
 */
export function isClientGate(status: number, message: string): boolean {
  return status === 405 && CODING_AGENTS_ONLY.test(message)
}

/** How the client was named to the provider, for messages. */
export function describeClient(userAgent: string | undefined): string {
  return userAgent ? `User-Agent "${userAgent}"` : 'a request without a User-Agent'
}

/** The answer when the only accounts that could serve refused the client at their gate. */
export function clientRefused(labels: readonly string[], userAgent: string | undefined, said: string): ProxyError {
  return proxyError(
    403,
    `${labels.join(', ')} serve${labels.length === 1 ? 's' : ''} coding agents only and refused this client (${describeClient(userAgent)}): "${said}". ` +
      'Send the request from a coding agent (Qwen Code, Claude Code, opencode, …), which qwenauth passes on as it is; ' +
      "or, if the account's owner decides so, fix a User-Agent for it with `qwenauth edit <account> --user-agent <agent's User-Agent>`",
    'permission_error',
    'client_not_served',
  )
}
