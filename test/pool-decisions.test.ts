/**
 * The decisions of the pool and the failover core as pure functions, driven by tables: which
 * account serves, which model name each account is sent, how long an account rests, what a
 * client gets when nothing can serve, and how tokens are applied to an account.
 */
import { describe, expect, it } from 'vitest'
import { candidateOrder, chooseHandout, earliestCooldownEnd, limitBlock, onTrial, withLimits } from '../src/pool/choose.ts'
import { clientModel, upstreamModel } from '../src/pool/model-map.ts'
import { retryAfterMs } from '../src/proxy/cooldowns.ts'
import type { AttemptFailure } from '../src/proxy/failover.ts'
import { nothingUsable } from '../src/proxy/nothing-usable.ts'
import { effectiveStatus, type Account, type AccountStatus, type QuotaLimit } from '../src/store/account-model.ts'
import type { AccountStats } from '../src/store/stats.ts'
import { usageDelta, type UsageCounters } from '../src/store/usage-windows.ts'
import { applyTokens } from '../src/store/tokens.ts'

const NOW = 1_800_000_000_000

function account(id: string, fields: Partial<Account> = {}): Account {
  return { id, label: `${id}@example.com`, kind: 'api-key', provider: 'custom', baseUrl: 'https://x/v1', apiKey: `key-${id}`, status: 'ok', createdAt: 0, updatedAt: 0, ...fields }
}
const ids = (accounts: readonly Account[]) => accounts.map((a) => a.id)

describe('effectiveStatus', () => {
  it.each<[AccountStatus, number | undefined, AccountStatus]>([
    ['ok', undefined, 'ok'],
    ['cooling-down', NOW + 1, 'cooling-down'],
    ['cooling-down', NOW, 'ok'],
    ['cooling-down', undefined, 'ok'],
    ['not-served', undefined, 'not-served'],
    ['needs-login', NOW + 1000, 'needs-login'],
  ])('%s until %s is %s', (status, cooldownUntil, expected) => {
    expect(effectiveStatus(account('a', { status, ...(cooldownUntil === undefined ? {} : { cooldownUntil }) }), NOW)).toBe(expected)
  })
})

describe('account choice', () => {
  const pool = [
    account('a', { status: 'not-served' }),
    account('b', { status: 'cooling-down', cooldownUntil: NOW + 60_000 }),
    account('c'),
    account('d', { status: 'cooling-down', cooldownUntil: NOW - 1 }),
    account('e', { status: 'needs-login' }),
    account('f'),
  ]

  it.each<[string, Parameters<typeof candidateOrder>[1], string[]]>([
    ['fill-first keeps pool order, usable only', { now: NOW, strategy: 'fill-first', turn: 7 }, ['c', 'd', 'f']],
    ['round-robin starts at the turn', { now: NOW, strategy: 'round-robin', turn: 1 }, ['d', 'f', 'c']],
    ['round-robin wraps around', { now: NOW, strategy: 'round-robin', turn: 5 }, ['f', 'c', 'd']],
    ['a preferred account goes first', { now: NOW, strategy: 'fill-first', turn: 0, preferredId: 'f' }, ['f', 'c', 'd']],
    ['a preferred account that cannot serve is not tried', { now: NOW, strategy: 'fill-first', turn: 0, preferredId: 'a' }, ['c', 'd', 'f']],
    ['preferred wins over the rotation', { now: NOW, strategy: 'round-robin', turn: 1, preferredId: 'c' }, ['c', 'd', 'f']],
    ['once the cooldown is over, b is back', { now: NOW + 60_000, strategy: 'fill-first', turn: 0 }, ['b', 'c', 'd', 'f']],
  ])('%s', (_name, options, expected) => {
    expect(ids(candidateOrder(pool, options))).toEqual(expected)
  })

  it.each<[string, Account[], string | undefined, string[]]>([
    ['the active account when it serves', [account('x'), account('y')], 'x', []],
    ['the first that serves, passing over the ones before it', pool, 'c', ['a', 'b']],
    ['none, and every account is passed over', [account('a', { status: 'not-served' }), account('b', { status: 'needs-login' })], undefined, ['a', 'b']],
    ['none from an empty pool', [], undefined, []],
  ])('handout: %s', (_name, accounts, expected, passedOver) => {
    const handout = chooseHandout(accounts, NOW)
    expect(handout.account?.id).toBe(expected)
    expect(ids(handout.passedOver)).toEqual(passedOver)
  })

  it('the earliest cooldown end ignores lapsed cooldowns and other marks', () => {
    expect(earliestCooldownEnd(pool, NOW)).toBe(NOW + 60_000)
    expect(earliestCooldownEnd([account('a', { status: 'cooling-down', cooldownUntil: NOW + 5 }), account('b', { status: 'cooling-down', cooldownUntil: NOW + 2 })], NOW)).toBe(NOW + 2)
    expect(earliestCooldownEnd([account('a')], NOW)).toBeUndefined()
  })
})

describe('trials, affinity and limits', () => {
  const lapsed = account('t', { status: 'cooling-down', cooldownUntil: NOW - 1 })
  const pool = [account('a'), lapsed, account('b')]

  it.each<[string, Account, boolean]>([
    ['a lapsed cooldown still stored', lapsed, true],
    ['a cooldown still running', account('x', { status: 'cooling-down', cooldownUntil: NOW + 1 }), false],
    ['an ok account', account('x'), false],
    ['not-served', account('x', { status: 'not-served' }), false],
  ])('on trial: %s → %s', (_name, target, expected) => {
    expect(onTrial(target, NOW)).toBe(expected)
  })

  it.each<[string, Parameters<typeof candidateOrder>[1], string[]]>([
    ['an account on trial is a candidate while nobody tries it', { now: NOW, strategy: 'fill-first', turn: 0 }, ['a', 't', 'b']],
    ['its running trial keeps the others off it', { now: NOW, strategy: 'fill-first', turn: 0, trialsRunning: new Set(['t']) }, ['a', 'b']],
    ['a running trial of an account not on trial changes nothing', { now: NOW, strategy: 'fill-first', turn: 0, trialsRunning: new Set(['a']) }, ['a', 't', 'b']],
    ["the conversation's account goes first", { now: NOW, strategy: 'fill-first', turn: 0, affinityId: 'b' }, ['b', 'a', 't']],
    ['affinity wins over a preferred account and the rotation', { now: NOW, strategy: 'round-robin', turn: 1, preferredId: 'a', affinityId: 'b' }, ['b', 'a', 't']],
    ['affinity to an account that cannot serve is no affinity', { now: NOW, strategy: 'fill-first', turn: 0, affinityId: 'gone' }, ['a', 't', 'b']],
  ])('%s', (_name, options, expected) => {
    expect(ids(candidateOrder(pool, options))).toEqual(expected)
  })

  // 2026-11-04 (a Wednesday) 12:00 UTC, 20:00 in Beijing.
  const WED = Date.UTC(2026, 10, 4, 12)
  const counted = (times: number[], tokens = 100, provider = 'coding-plan'): UsageCounters => {
    const usage: UsageCounters = {}
    for (const t of times) for (const [k, n] of Object.entries(usageDelta({ utcOffsetMinutes: provider === 'openrouter' ? 0 : 480, monthResetDay: 1 }, t, tokens))) usage[k] = (usage[k] ?? 0) + n
    return usage
  }
  const limited = (limits: QuotaLimit[], provider = 'coding-plan') => account('l', { provider, limits })
  const HOUR = 3_600_000

  it.each<[string, Account, UsageCounters, number | undefined]>([
    ['below every limit', limited([{ window: '5h', unit: 'requests', max: 3 }]), counted([WED - HOUR, WED - 2 * HOUR]), undefined],
    ['5 hours: free once the oldest requests leave the window', limited([{ window: '5h', unit: 'requests', max: 2 }]), counted([WED - 4 * HOUR, WED - HOUR]), WED + HOUR + 300_000],
    ['5 hours, tokens', limited([{ window: '5h', unit: 'tokens', max: 150 }]), counted([WED - 2 * HOUR, WED - HOUR]), WED + 3 * HOUR + 300_000],
    ['a week: free at Monday 00:00 UTC+8', limited([{ window: 'week', unit: 'requests', max: 2 }]), counted([WED - 24 * HOUR, WED]), Date.UTC(2026, 10, 8, 16)],
    ['a day on OpenRouter: free at 00:00 UTC', limited([{ window: 'day', unit: 'requests', max: 1 }], 'openrouter'), counted([WED], 100, 'openrouter'), Date.UTC(2026, 10, 5)],
    ['two limits reached: free when both are', limited([{ window: '5h', unit: 'requests', max: 1 }, { window: 'month', unit: 'requests', max: 1 }]), counted([WED]), Date.UTC(2026, 10, 30, 16)],
    ['last week\'s requests do not count this week', limited([{ window: 'week', unit: 'requests', max: 1 }]), counted([WED - 3 * 24 * HOUR]), undefined],
  ])('limit: %s', (_name, target, usage, until) => {
    expect(limitBlock(target, usage, WED)?.until).toBe(until)
  })

  it('an account at a limit rests (not stored) until its window frees; the others are untouched', () => {
    const a = limited([{ window: 'week', unit: 'requests', max: 1 }])
    const b = account('b')
    const stats: Record<string, AccountStats> = { l: { requests: 1, failures: 0, promptTokens: 0, completionTokens: 0, usage: counted([WED]) } }
    const [restingA, sameB] = withLimits([a, b], stats, WED)
    expect(restingA).toMatchObject({ status: 'cooling-down', cooldownUntil: Date.UTC(2026, 10, 8, 16), lastError: { code: 'limit_reached', message: '1 requests a week (1 counted)' } })
    expect(a.status).toBe('ok')
    expect(sameB).toBe(b)
    expect(candidateOrder(withLimits([a, b], stats, WED), { now: WED, strategy: 'fill-first', turn: 0 }).map((x) => x.id)).toEqual(['b'])
    expect(earliestCooldownEnd(withLimits([a, b], stats, WED), WED)).toBe(Date.UTC(2026, 10, 8, 16))
    expect(withLimits([a, b], stats, Date.UTC(2026, 10, 8, 16))[0]?.status).toBe('ok')
  })
})

describe('model names', () => {
  const oauth = account('q', { kind: 'qwen-oauth', provider: 'qwen-oauth' })
  const dashscope = account('d', { provider: 'dashscope' })
  const openrouter = account('o', { provider: 'openrouter' })
  const custom = account('c', { aliases: { 'coder-model': 'my-coder' }, model: 'my-coder' })
  const bare = account('b', { model: 'llama-3' })

  it.each<[string, Account, string | undefined, string]>([
    ['no model: the account default', dashscope, undefined, 'qwen3-coder-plus'],
    ['neutral name on a preset', openrouter, 'coder-model', 'qwen/qwen3-coder'],
    ['neutral name on Qwen OAuth', oauth, 'coder-model', 'coder-model'],
    ["another provider's name for the coder, to DashScope", dashscope, 'qwen/qwen3-coder', 'qwen3-coder-plus'],
    ["another provider's name for the coder, to Qwen OAuth", oauth, 'qwen/qwen3-coder', 'coder-model'],
    ["DashScope's name for the coder, to OpenRouter", openrouter, 'qwen3-coder-plus', 'qwen/qwen3-coder'],
    ['the vision model across providers', openrouter, 'qwen3-vl-plus', 'qwen/qwen2.5-vl-72b-instruct'],
    ["another provider's name, to a custom account's alias", custom, 'Qwen/Qwen3-Coder-480B-A35B-Instruct', 'my-coder'],
    ['a name no table knows passes through', dashscope, 'qwen-max-latest', 'qwen-max-latest'],
    ['own name passes through', openrouter, 'qwen/qwen3-coder', 'qwen/qwen3-coder'],
  ])('%s', (_name, target, requested, expected) => {
    expect(upstreamModel(target, requested)).toBe(expected)
  })

  it.each<[Account, string]>([
    [openrouter, 'coder-model'],
    [dashscope, 'coder-model'],
    [oauth, 'coder-model'],
    [custom, 'coder-model'],
    [bare, 'llama-3'],
  ])('a proxied client of %s is told the neutral name %s', (target, expected) => {
    expect(clientModel(target)).toBe(expected)
  })
})

describe('Retry-After', () => {
  it.each<[string | null, number | undefined]>([
    [null, undefined],
    ['', undefined],
    ['0', 0],
    ['120', 120_000],
    ['1.5', 1500],
    [new Date(NOW + 90_000).toUTCString(), 90_000],
    [new Date(NOW - 90_000).toUTCString(), 0],
    ['soon', undefined],
  ])('Retry-After %j is %s ms', (value, expected) => {
    expect(retryAfterMs(value, NOW)).toBe(expected)
  })
})

describe('the answer when nothing can serve', () => {
  const failure = (id: string, transient: boolean): AttemptFailure => ({ accountId: id, label: `${id}@example.com`, reason: transient ? 'upstream error 500 (boom)' : 'quota exhausted', transient })
  it.each<[string, Account[], AttemptFailure[], number, string, string | undefined]>([
    ['no accounts at all', [], [], 503, 'no_accounts', undefined],
    ['all cooling down after a quota', [account('a', { status: 'cooling-down', cooldownUntil: NOW + 61_000, lastError: { message: 'q', at: NOW, code: 'insufficient_quota' } })], [], 429, 'insufficient_quota', '61'],
    ['all cooling down after a rate limit', [account('a', { status: 'cooling-down', cooldownUntil: NOW + 500 })], [], 429, 'rate_limit_exceeded', '1'],
    ['usable accounts failed upstream', [account('a')], [failure('a', true)], 502, 'upstream_error', undefined],
    ['every account needs the user', [account('a', { status: 'not-served' }), account('b', { status: 'needs-login' })], [], 403, 'no_usable_account', undefined],
  ])('%s', (_name, accounts, failures, status, code, retryAfter) => {
    const error = nothingUsable(accounts, failures, NOW)
    expect([error.status, error.code, error.headers?.['retry-after']]).toEqual([status, code, retryAfter])
    for (const a of accounts) expect(error.message).toContain(a.id)
  })
})

describe('the answer when nothing can serve, for a client or a trial', () => {
  it.each<[string, Account[], AttemptFailure[], Set<string>, number, string, string | undefined]>([
    ['the gate refused the client', [account('a')], [{ accountId: 'a', label: 'a@example.com', reason: 'refused this client', transient: false, gate: { said: 'Coding Plan is currently only available for Coding Agents', userAgent: 'curl/8' } }], new Set(), 403, 'client_not_served', undefined],
    ['a gate and a cooldown: waiting helps more', [account('a'), account('b', { status: 'cooling-down', cooldownUntil: NOW + 5000 })], [{ accountId: 'a', label: 'a@example.com', reason: 'refused', transient: false, gate: { said: 'x', userAgent: undefined } }], new Set(), 429, 'rate_limit_exceeded', '5'],
    ["another request holds the only account's trial", [account('t', { status: 'cooling-down', cooldownUntil: NOW - 1 })], [], new Set(['t']), 429, 'rate_limit_exceeded', '1'],
    ['an account at its limit', [account('l', { status: 'cooling-down', cooldownUntil: NOW + 61_000, lastError: { message: '1 requests a week (1 counted)', at: NOW, code: 'limit_reached' } })], [], new Set(), 429, 'insufficient_quota', '61'],
    // Codex stops at `insufficient_quota` ("Quota exceeded"), whatever the Retry-After; a rate
    // limit it retries. A wait that short is worth it (the OpenAI SDKs honour Retry-After up to 60 s).
    ['an account at a minute limit: back within a minute', [account('m', { status: 'cooling-down', cooldownUntil: NOW + 60_000, lastError: { message: '20 requests a minute (20 counted)', at: NOW, code: 'limit_reached' } })], [], new Set(), 429, 'rate_limit_exceeded', '60'],
    ['a quota whose cooldown ends within a minute', [account('q', { status: 'cooling-down', cooldownUntil: NOW + 2_000, lastError: { message: 'q', at: NOW, code: 'insufficient_quota' } })], [], new Set(), 429, 'rate_limit_exceeded', '2'],
  ])('%s', (_name, accounts, failures, trials, status, code, retryAfter) => {
    const error = nothingUsable(accounts, failures, NOW, trials)
    expect([error.status, error.code, error.headers?.['retry-after']]).toEqual([status, code, retryAfter])
  })
})

describe('token application', () => {
  const base = account('q', { kind: 'qwen-oauth', provider: 'qwen-oauth', apiKey: undefined, accessToken: 'old-at', refreshToken: 'old-rt', tokenType: 'Bearer', expiresAt: NOW, resourceUrl: 'portal.qwen.ai', baseUrl: 'https://portal.qwen.ai/v1' })
  it.each<[string, Partial<Account>, Parameters<typeof applyTokens>[1], Partial<Account>]>([
    ['a rotated refresh token replaces the old one', {}, { accessToken: 'at', refreshToken: 'rt', tokenType: 'Bearer', expiresAt: NOW + 1 }, { accessToken: 'at', refreshToken: 'rt', expiresAt: NOW + 1 }],
    ['an absent refresh token keeps the old one', {}, { accessToken: 'at', tokenType: 'Bearer', expiresAt: NOW + 1 }, { refreshToken: 'old-rt' }],
    ['a resource_url moves the base URL', {}, { accessToken: 'at', tokenType: 'Bearer', expiresAt: NOW + 1, resourceUrl: 'https://other.example' }, { baseUrl: 'https://other.example/v1', resourceUrl: 'https://other.example' }],
    ['needs-login is over', { status: 'needs-login' }, { accessToken: 'at', tokenType: 'Bearer', expiresAt: NOW + 1 }, { status: 'ok' }],
    ['a cooldown stays', { status: 'cooling-down', cooldownUntil: NOW + 5 }, { accessToken: 'at', tokenType: 'Bearer', expiresAt: NOW + 1 }, { status: 'cooling-down', cooldownUntil: NOW + 5 }],
    ['not-served stays', { status: 'not-served' }, { accessToken: 'at', tokenType: 'Bearer', expiresAt: NOW + 1 }, { status: 'not-served' }],
  ])('%s', (_name, before, tokens, expected) => {
    const applied = applyTokens({ ...base, ...before }, tokens, NOW + 10)
    expect(applied).toMatchObject({ ...expected, updatedAt: NOW + 10 })
  })
})
