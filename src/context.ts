import type { Storage } from 'unstorage'
import { oauthBaseUrl } from './auth/oauth-constants.ts'
import { KEYS, qwenHome } from './lib/paths.ts'
import { AccountStore } from './store/accounts.ts'
import { createFileLocker } from './store/file-lock.ts'
import type { Locker } from './store/locker.ts'
import { createFileStorage } from './store/storage.ts'
import { join } from 'pathe'

/** What every command works with: where accounts live, how locks are taken, which OAuth server. */
export interface Context {
  home: string
  storage: Storage
  locker: Locker
  accounts: AccountStore
  oauthUrl: string
}

export function createContext(env: NodeJS.ProcessEnv = process.env): Context {
  const home = qwenHome(env)
  const storage = createFileStorage(home)
  const locker = createFileLocker(home)
  const where = join(home, KEYS.accounts.replace(/:/g, '/'))
  return { home, storage, locker, accounts: new AccountStore(storage, locker, where), oauthUrl: oauthBaseUrl(env) }
}
