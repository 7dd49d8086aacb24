/**
 * When a cooldown may be over, one request tries the account; the others keep going elsewhere
 * until that one succeeds (then all traffic returns) or earns a new cooldown.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Account } from '../src/store/account-model.ts'
import { addKeyAccount, chatRequest, proxyApp, proxyFixture, waitFor, type ProxyFixture } from './helpers/proxy-fixtures.ts'

let fx: ProxyFixture
afterEach(() => fx.cleanup())

const stored = async (id: string) => (await fx.ctx.accounts.read()).accounts.find((a) => a.id === id)
const servedBy = (key: string | undefined) => fx.emu.requests.filter((r) => r.auth === key).length

/** `rested` first, its cooldown just run out; `spare` second. */
async function lapsedCooldownFirst(): Promise<{ rested: Account; spare: Account }> {
  const now = Date.now()
  const rested = await addKeyAccount(fx, 'sk-rested-key-0000000000', 'rested-0001', {
    status: 'cooling-down',
    cooldownUntil: now - 1000,
    lastError: { message: 'quota exhausted (hour allocated quota exceeded.)', at: now - 60_000, code: 'insufficient_quota' },
  })
  const spare = await addKeyAccount(fx, 'sk-spare-key-0000000000', 'spare-0001')
  return { rested, spare }
}

describe('the trial request after a cooldown', () => {
  it('one request tries the account; the rest go elsewhere until it succeeds, then traffic returns', async () => {
    fx = await proxyFixture()
    const { rested, spare } = await lapsedCooldownFirst()
    const app = proxyApp(fx)
    // The trial is slow to answer, so the other requests arrive while it is under way.
    fx.emu.delayNextResponse(800)
    const trial = app.fetch(chatRequest({}))
    await waitFor(() => fx.emu.requests.length === 1, 3000, 'the trial request upstream')
    const during = await Promise.all([1, 2, 3].map(() => app.fetch(chatRequest({}))))
    expect(during.map((r) => r.status)).toEqual([200, 200, 200])
    expect([servedBy(rested.apiKey), servedBy(spare.apiKey)]).toEqual([1, 3])

    expect((await trial).status).toBe(200)
    // Served again: the mark is cleared for everyone, and the account is first in line again.
    const after = await Promise.all([1, 2].map(() => app.fetch(chatRequest({}))))
    expect(after.map((r) => r.status)).toEqual([200, 200])
    expect([servedBy(rested.apiKey), servedBy(spare.apiKey)]).toEqual([3, 3])
    await waitFor(async () => (await stored(rested.id))?.status === 'ok', 3000, 'the cooldown mark cleared in the store')
  })

  it('a trial that is refused again earns a new cooldown; the others were never sent there', async () => {
    fx = await proxyFixture()
    const { rested, spare } = await lapsedCooldownFirst()
    fx.emu.setApiKeyState(rested.apiKey!, 'quota')
    const app = proxyApp(fx)
    fx.emu.delayNextResponse(500)
    const trial = app.fetch(chatRequest({}))
    await waitFor(() => fx.emu.requests.length === 1, 3000, 'the trial request upstream')
    const during = await Promise.all([1, 2].map(() => app.fetch(chatRequest({}))))
    expect(during.map((r) => r.status)).toEqual([200, 200])
    // The trial fails over to the spare account too.
    expect((await trial).status).toBe(200)
    expect(fx.emu.requests.filter((r) => r.auth === rested.apiKey).map((r) => r.status)).toEqual([429])
    expect(servedBy(spare.apiKey)).toBe(3)
    await waitFor(async () => ((await stored(rested.id))?.cooldownUntil ?? 0) > Date.now() + 29 * 60_000, 3000, 'a new cooldown')
  })

  it('with no other account, a request that finds the trial under way is told to retry in a second', async () => {
    fx = await proxyFixture()
    const now = Date.now()
    const rested = await addKeyAccount(fx, 'sk-alone-key-0000000000', 'alone-0001', { status: 'cooling-down', cooldownUntil: now - 1000 })
    const app = proxyApp(fx)
    fx.emu.delayNextResponse(500)
    const trial = app.fetch(chatRequest({}))
    await waitFor(() => fx.emu.requests.length === 1, 3000, 'the trial request upstream')
    const waiting = await app.fetch(chatRequest({}))
    expect(waiting.status).toBe(429)
    expect(waiting.headers.get('retry-after')).toBe('1')
    expect(((await waiting.json()) as { error: { message: string } }).error.message).toContain(`${rested.label} (${rested.id}): its cooldown ended; another request is trying it first`)
    expect((await trial).status).toBe(200)
    expect((await app.fetch(chatRequest({}))).status).toBe(200)
  })
})
