import type { Context } from '../../context.ts'
import { ExitCode, QwenauthError } from '../../lib/errors.ts'
import { tokenLabel } from '../../lib/jwt.ts'
import { logger } from '../../lib/logger.ts'
import { ADD_SERVED_ACCOUNT, notServedMessage } from '../../pool/messages.ts'
import { canOpenBrowser, openBrowser } from '../../lib/open-browser.ts'
import { accountError, type Account } from '../../store/account-model.ts'
import { pollForTokens, requestDeviceAuthorization } from './device-flow.ts'
import { showLoginPrompt } from './login-prompt.ts'
import { probeServed, type Served } from './probe-served.ts'
import { saveOAuthLogin } from './save-login.ts'

export interface OAuthLoginOptions {
  browser: boolean
  /** Ask the API once whether it serves the new login (default true; `--no-verify` skips it). */
  probe?: boolean
  signal?: AbortSignal
  isTTY?: boolean
}

/** The whole device-flow login: nothing is written until the server hands out tokens. */
export async function runOAuthLogin(ctx: Context, options: OAuthLoginOptions): Promise<Account> {
  const auth = await requestDeviceAuthorization(ctx.oauthUrl, options.signal)
  const isTTY = options.isTTY ?? Boolean(process.stderr.isTTY)
  const stopPrompt = showLoginPrompt(auth, isTTY)
  if (options.browser && isTTY && canOpenBrowser()) openBrowser(auth.verificationUriComplete)
  let account: Account
  let served: Served = { served: 'unknown', why: 'not checked (--no-verify)' }
  try {
    // On a terminal the countdown line is redrawn every second: a notice clears it first.
    const notice = (line: string) => {
      if (isTTY) process.stderr.write('\r\x1b[2K')
      logger.warn(line)
    }
    const tokens = await pollForTokens(ctx.oauthUrl, auth, options.signal, undefined, notice)
    if (options.probe !== false) served = await probeServed(tokens, options.signal ? { signal: options.signal } : {})
    account = await saveOAuthLogin(ctx, tokens, served.served === false ? accountError(notServedMessage(tokenLabel(tokens.accessToken) ?? 'this login'), Date.now(), 'not_served') : undefined)
  } finally {
    stopPrompt()
  }
  if (served.served === false) {
    throw new QwenauthError(
      `logged in as ${account.label} (account ${account.id}), but Qwen does not serve it (${served.said}): Qwen ended the free OAuth tier on 2026-04-15. It is stored as not-served, behind the accounts that can serve; ${ADD_SERVED_ACCOUNT}`,
      ExitCode.notServed,
    )
  }
  if (served.served === 'unknown' && options.probe !== false) logger.warn(`could not check that Qwen serves ${account.label}: ${served.why}`)
  logger.success(`Logged in as ${account.label} (account ${account.id}, now active)`)
  return account
}
