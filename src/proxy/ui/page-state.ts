import { PROVIDERS } from '../../auth/api-key/providers.ts'
import { VERSION } from '../../lib/version.ts'
import { accountViews, usageLines, type AccountView, type UsageLine } from '../../pool/account-view.ts'
import type { RecentRequest } from '../recent-requests.ts'
import type { ProxyState } from '../state.ts'

/** What the status page shows, polled once a second. Accounts only as their redacted views. */
export interface PageState {
  version: string
  strategy: string
  /** Epoch ms: the server's clock, so the page counts down against it, not its own. */
  now: number
  startedAt: number
  requestsPerMinute: number
  /** Whether this caller may use the actions: only a holder of a configured client key. */
  canAct: boolean
  /** Why not, when not. */
  readOnly: string | null
  /** The account views, with usage as lines. */
  accounts: Array<Omit<AccountView, 'usage'> & { usage: UsageLine[] }>
  recent: RecentRequest[]
  /** For the form that adds a key account. */
  providers: Array<{ name: string; title: string }>
}

export const READ_ONLY_WITHOUT_KEYS = 'read-only: this serve has no client key, so nobody can act through the page; start it with QWENAUTH_API_KEYS (or --api-key) to manage accounts here'

export async function pageState(state: ProxyState): Promise<PageState> {
  const now = state.settings.now()
  const accounts = await state.pool.accounts()
  // Counters live in the store: while it is away (Redis down), the page still shows the accounts.
  const counters = await state.stats.read().catch(() => undefined)
  const keyed = state.settings.apiKeys.length > 0
  return {
    version: VERSION,
    strategy: state.pool.strategy,
    now,
    startedAt: state.metrics.startedAt,
    requestsPerMinute: state.recent.perMinute(now),
    canAct: keyed,
    readOnly: keyed ? null : READ_ONLY_WITHOUT_KEYS,
    // The page shows usage as lines (usageLines); the view's per-window record would be for it to flatten.
    accounts: accountViews(accounts, counters, now).map((view) => ({ ...view, usage: usageLines(view) })),
    recent: state.recent.list(),
    providers: PROVIDERS.map((p) => ({ name: p.name, title: p.title })),
  }
}
