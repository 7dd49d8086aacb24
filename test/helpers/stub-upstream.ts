import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Context } from '../../src/context.ts'
import type { Account } from '../../src/store/account-model.ts'

/**
 * A scripted upstream on 127.0.0.1; resolves with its /v1 base URL. Its close (every connection
 * cut) is pushed onto `cleanups`.
 */
export async function stubUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void, cleanups: Array<() => Promise<void>>): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
}

/** A key account for a custom base URL, appended last in the pool. */
export async function keyAccountAt(ctx: Context, baseUrl: string, apiKey: string, id: string): Promise<Account> {
  const now = Date.now()
  const account: Account = { id, label: id, kind: 'api-key', provider: 'custom', baseUrl, apiKey, status: 'ok', createdAt: now, updatedAt: now }
  await ctx.accounts.update((doc) => void doc.accounts.push(account))
  return account
}
