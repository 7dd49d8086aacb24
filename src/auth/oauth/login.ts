import type { Context } from '../../context.ts'
import { logger } from '../../lib/logger.ts'
import { canOpenBrowser, openBrowser } from '../../lib/open-browser.ts'
import type { Account } from '../../store/account-model.ts'
import { pollForTokens, requestDeviceAuthorization } from './device-flow.ts'
import { showLoginPrompt } from './login-prompt.ts'
import { saveOAuthLogin } from './save-login.ts'

export interface OAuthLoginOptions {
  browser: boolean
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
  try {
    const tokens = await pollForTokens(ctx.oauthUrl, auth, options.signal)
    account = await saveOAuthLogin(ctx, tokens)
  } finally {
    stopPrompt()
  }
  logger.success(`Logged in as ${account.label} (account ${account.id}, now active)`)
  return account
}
