import { checkKeyShape } from '../../auth/api-key/key-input.ts'
import { checkAndSaveKey } from '../../auth/api-key/login.ts'
import { resolveProvider } from '../../auth/api-key/providers.ts'
import type { Context } from '../../context.ts'
import { describeFsError, ExitCode, QwenauthError, usageError } from '../../lib/errors.ts'
import { checkLabel } from '../../lib/label.ts'
import { redact, registerSecret, secretHint } from '../../lib/redact.ts'
import { clearedMessage, clearMarks, makeActive, stillNeedsLogin } from '../../pool/pool-edits.ts'
import { requireAccount } from '../../store/account-model.ts'
import type { JsonBody } from '../body.ts'
import { proxyError, type ProxyError } from '../protocols/protocol.ts'

/** What an action did: a sentence for the page, and a note for the request's log line. */
export interface ActionDone {
  message: string
  note: string
}

type Action = (ctx: Context, body: JsonBody['json'], signal: AbortSignal | undefined) => Promise<ActionDone>

/**
 * The status page's actions, each a function the CLI has too: `use`, `reset`, `logout` and
 * `login --provider` (whose key check against the provider's `GET /models` is reused as it is).
 */
const ACTIONS: Readonly<Record<string, Action>> = {
  '/ui/activate': async (ctx, body) => {
    const account = await makeActive(ctx, accountArgument(body))
    return { message: `${account.label} (${account.id}) is now the active account`, note: `(made ${account.id} active)` }
  },
  '/ui/reset': async (ctx, body) => {
    const { id } = requireAccount(await ctx.accounts.read(), accountArgument(body))
    const [cleared] = await clearMarks(ctx, [id])
    if (!cleared) throw usageError(`account ${id} was removed meanwhile`)
    if (cleared.after === 'needs-login') throw stillNeedsLogin(cleared.account)
    return { message: clearedMessage(cleared), note: `(reset ${id}: was ${cleared.before})` }
  },
  '/ui/remove': async (ctx, body) => {
    const account = requireAccount(await ctx.accounts.read(), accountArgument(body))
    await ctx.accounts.remove([account.id])
    return { message: `removed ${account.label} (${account.id})`, note: `(removed ${account.id})` }
  },
  '/ui/add-key': async (ctx, body, signal) => {
    const provider = stringField(body, 'provider', 'a provider name or an https:// base URL')
    const apiKey = checkKeyShape(stringField(body, 'apiKey', 'the API key'))
    // From here on a secret: no log line, error or answer may show it.
    registerSecret(apiKey)
    const label = typeof body.label === 'string' && body.label.trim() ? checkLabel(body.label.trim(), '"label"') : undefined
    const saved = await checkAndSaveKey(ctx, resolveProvider(provider), apiKey, { verify: true, ...(label ? { label } : {}), ...(signal ? { signal } : {}) })
    const { account, created, position } = saved
    const verb = created ? 'added' : 'updated'
    return {
      message: `${verb} ${account.label} (${account.id}, key ${secretHint(account.apiKey)}) as #${position} in the pool`,
      note: `(${verb} ${account.id})`,
    }
  },
}

export function isAction(path: string): boolean {
  return Object.hasOwn(ACTIONS, path)
}

/** Runs the action at `path`; its failures become errors with a status the page can show. */
export async function runAction(path: string, ctx: Context, body: JsonBody['json'], signal: AbortSignal | undefined): Promise<ActionDone | ProxyError> {
  const action = ACTIONS[path]
  if (!action) return proxyError(404, `no status page action ${path}`, 'invalid_request_error', 'unknown_route')
  try {
    return await action(ctx, body, signal)
  } catch (error) {
    return actionError(error)
  }
}

function accountArgument(body: JsonBody['json']): string {
  return stringField(body, 'account', 'an account id')
}

function stringField(body: JsonBody['json'], name: string, what: string): string {
  const value = body[name]
  if (typeof value !== 'string' || !value.trim()) throw usageError(`"${name}" is missing: send ${what}`)
  return value.trim()
}

const BY_EXIT_CODE: Readonly<Record<number, [status: number, code: string]>> = {
  [ExitCode.usage]: [400, 'invalid_request'],
  [ExitCode.loginDenied]: [400, 'key_refused'],
  [ExitCode.needsLogin]: [409, 'needs_login'],
  [ExitCode.network]: [502, 'provider_unreachable'],
  [ExitCode.lockTimeout]: [503, 'store_busy'],
}

function actionError(error: unknown): ProxyError {
  const message = redact(describeFsError(error) ?? (error instanceof Error ? error.message : String(error)))
  const [status, code] = (error instanceof QwenauthError && BY_EXIT_CODE[error.exitCode]) || [500, 'action_failed']
  return proxyError(status, message, status >= 500 ? 'server_error' : 'invalid_request_error', code)
}
