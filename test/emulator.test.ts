import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator } from './fixtures/qwen-emulator.ts';
import type { Emulator, EmulatorOptions } from './fixtures/qwen-emulator.ts';

const CLIENT_ID = 'f0304373b74a44d2b584a3fb70ca9e56';
const SCOPE = 'openid profile email model.completion';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const INVALID_TOKEN = {
  error: { message: 'invalid access token or token expired', type: 'invalid_request_error', code: 'invalid_api_key' },
};
const QUOTA = {
  error: { message: 'Free allocated quota exceeded.', type: 'insufficient_quota', code: 'insufficient_quota' },
};

const running: Emulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((emu) => emu.close()));
});

async function start(options: EmulatorOptions = {}): Promise<Emulator> {
  const emu = await startEmulator(options);
  running.push(emu);
  return emu;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function postForm(url: string, fields: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(fields),
    ...(signal ? { signal } : {}),
  });
}

interface DeviceAnswer {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval?: number;
}

interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
  resource_url: string;
}

async function requestDeviceCode(emu: Emulator, challenge: string): Promise<DeviceAnswer> {
  const res = await postForm(`${emu.url}/api/v1/oauth2/device/code`, {
    client_id: CLIENT_ID,
    scope: SCOPE,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  expect(res.status).toBe(200);
  return (await res.json()) as DeviceAnswer;
}

function poll(emu: Emulator, deviceCode: string, verifier: string): Promise<Response> {
  return postForm(`${emu.url}/api/v1/oauth2/token`, {
    grant_type: DEVICE_GRANT,
    client_id: CLIENT_ID,
    device_code: deviceCode,
    code_verifier: verifier,
  });
}

function refresh(emu: Emulator, refreshToken: string, signal?: AbortSignal): Promise<Response> {
  return postForm(
    `${emu.url}/api/v1/oauth2/token`,
    { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID },
    signal,
  );
}

/** A full device-flow login approved for `email`. */
async function login(emu: Emulator, email?: string): Promise<TokenAnswer> {
  const { verifier, challenge } = pkce();
  const device = await requestDeviceCode(emu, challenge);
  emu.approve(device.user_code, email === undefined ? undefined : { email });
  const res = await poll(emu, device.device_code, verifier);
  expect(res.status).toBe(200);
  return (await res.json()) as TokenAnswer;
}

function api(emu: Emulator, path: string, token: string | undefined, body?: unknown, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${emu.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    ...init,
  });
}

const hello = { model: 'coder-model', messages: [{ role: 'user', content: 'hi' }] };

/** The `data:` payloads of an SSE body, in order. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

describe('device code endpoint', () => {
  it('answers the RFC 8628 fields, with interval only when configured', async () => {
    const emu = await start();
    const device = await requestDeviceCode(emu, pkce().challenge);
    expect(device.device_code).toMatch(/^\S{20,}$/);
    expect(device.user_code).toMatch(/^[A-Z0-9]{8}$/);
    expect(device.verification_uri).toBe(`${emu.url}/authorize`);
    expect(device.verification_uri_complete).toBe(`${emu.url}/authorize?user_code=${device.user_code}&client=qwen-code`);
    expect(device.expires_in).toBe(600);
    expect(device).not.toHaveProperty('interval');
    expect(emu.stats.deviceCodeRequests).toBe(1);

    const custom = await start({ interval: 0.5, deviceCodeTtl: 30 });
    const answer = await requestDeviceCode(custom, pkce().challenge);
    expect(answer.interval).toBe(0.5);
    expect(answer.expires_in).toBe(30);
  });

  it('rejects requests that break the protocol', async () => {
    const emu = await start();
    const url = `${emu.url}/api/v1/oauth2/device/code`;
    const good = { client_id: CLIENT_ID, scope: SCOPE, code_challenge: pkce().challenge, code_challenge_method: 'S256' };
    const asJson = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(good) });
    expect(asJson.status).toBe(400);
    expect(await asJson.json()).toMatchObject({ error: 'invalid_request' });

    const wrongClient = await postForm(url, { ...good, client_id: 'someone-else' });
    expect(wrongClient.status).toBe(401);
    expect(await wrongClient.json()).toMatchObject({ error: 'invalid_client' });

    const wrongScope = await postForm(url, { ...good, scope: 'openid profile email' });
    expect(wrongScope.status).toBe(400);
    expect(await wrongScope.json()).toMatchObject({ error: 'invalid_scope' });

    const plain = await postForm(url, { ...good, code_challenge_method: 'plain' });
    expect(plain.status).toBe(400);
    const shortChallenge = await postForm(url, { ...good, code_challenge: 'abc' });
    expect(shortChallenge.status).toBe(400);
    expect(await shortChallenge.json()).toMatchObject({ error: 'invalid_request' });

    const repeated = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${new URLSearchParams(good).toString()}&scope=openid`,
    });
    expect(repeated.status).toBe(400);
    expect((await fetch(url)).status).toBe(405);
    expect(emu.oauthRequests.map((r) => r.status)).toEqual([400, 401, 400, 400, 400, 400, 405]);
  });
});

describe('device code polling', () => {
  it('answers pending, then tokens once approved, and consumes the device code', async () => {
    const emu = await start({ enforceInterval: false });
    const { verifier, challenge } = pkce();
    const device = await requestDeviceCode(emu, challenge);

    const pending = await poll(emu, device.device_code, verifier);
    expect(pending.status).toBe(400);
    expect(await pending.json()).toEqual({ error: 'authorization_pending' });

    expect(emu.approve(undefined, { email: 'alice@example.com' })).toBe('alice@example.com');
    const ok = await poll(emu, device.device_code, verifier);
    expect(ok.status).toBe(200);
    const tokens = (await ok.json()) as TokenAnswer;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 21600, scope: SCOPE, resource_url: emu.url });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const [header, payload, signature] = tokens.access_token.split('.');
    expect(signature).toMatch(/^[\w-]+$/);
    expect(JSON.parse(Buffer.from(header ?? '', 'base64url').toString())).toMatchObject({ typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ email: 'alice@example.com', name: 'alice', sub: expect.any(String) });
    expect((claims.exp as number) - (claims.iat as number)).toBe(21600);

    const again = await poll(emu, device.device_code, verifier);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
    expect(emu.stats.polls).toBe(3);
    expect(emu.stats.pollTimes).toHaveLength(3);
    expect(emu.users()).toEqual([{ email: 'alice@example.com', state: 'ok' }]);
  });

  it('rejects a wrong code_verifier, an unknown device code and a missing field', async () => {
    const emu = await start({ enforceInterval: false });
    const device = await requestDeviceCode(emu, pkce().challenge);
    const wrong = await poll(emu, device.device_code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });

    const unknown = await poll(emu, 'no-such-code', pkce().verifier);
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: 'invalid_grant' });

    const missing = await postForm(`${emu.url}/api/v1/oauth2/token`, { grant_type: DEVICE_GRANT, client_id: CLIENT_ID });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });

    const wrongClient = await postForm(`${emu.url}/api/v1/oauth2/token`, {
      grant_type: DEVICE_GRANT,
      client_id: 'nope',
      device_code: device.device_code,
      code_verifier: pkce().verifier,
    });
    expect(wrongClient.status).toBe(401);
    expect(await wrongClient.json()).toMatchObject({ error: 'invalid_client' });

    const asJson = await fetch(`${emu.url}/api/v1/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: DEVICE_GRANT, client_id: CLIENT_ID }),
    });
    expect(asJson.status).toBe(400);
    expect(await asJson.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('answers access_denied after deny and expired_token after expires_in', async () => {
    // The emulator's own clock: a 0.1 s lifetime must not run out on a busy machine before the first poll.
    let now = Date.now();
    const emu = await start({ enforceInterval: false, deviceCodeTtl: 0.1, now: () => now });
    const denied = pkce();
    const deniedDevice = await requestDeviceCode(emu, denied.challenge);
    emu.deny(deniedDevice.user_code);
    const deniedPoll = await poll(emu, deniedDevice.device_code, denied.verifier);
    expect(deniedPoll.status).toBe(400);
    expect(await deniedPoll.json()).toEqual({ error: 'access_denied' });

    const late = pkce();
    const lateDevice = await requestDeviceCode(emu, late.challenge);
    now += 150;
    const expired = await poll(emu, lateDevice.device_code, late.verifier);
    expect(expired.status).toBe(400);
    expect(await expired.json()).toEqual({ error: 'expired_token' });
    expect(() => emu.approve(lateDevice.user_code)).toThrow(/no pending device code/);
  });

  it('answers 429 slow_down to polls faster than the interval and adds 5 s to it', async () => {
    // The emulator's own clock: the pace of the polls is exact, whatever the machine's load.
    let now = Date.now();
    const emu = await start({ interval: 0.05, now: () => now });
    const { verifier, challenge } = pkce();
    const device = await requestDeviceCode(emu, challenge);
    expect((await poll(emu, device.device_code, verifier)).status).toBe(400);
    now += 60;
    expect((await poll(emu, device.device_code, verifier)).status).toBe(400);

    now += 10;
    const tooFast = await poll(emu, device.device_code, verifier);
    expect(tooFast.status).toBe(429);
    expect(await tooFast.json()).toEqual({ error: 'slow_down' });
    // The required interval is now 5.05 s, so the old pace is still too fast (and adds 5 s more);
    // a poll after the 10.05 s that makes is answered.
    now += 60;
    expect((await poll(emu, device.device_code, verifier)).status).toBe(429);
    now += 10_050;
    expect((await poll(emu, device.device_code, verifier)).status).toBe(400);
  });

  it('does not enforce the interval with enforceInterval: false', async () => {
    const emu = await start({ enforceInterval: false });
    const { verifier, challenge } = pkce();
    const device = await requestDeviceCode(emu, challenge);
    for (let i = 0; i < 3; i++) expect((await poll(emu, device.device_code, verifier)).status).toBe(400);
  });

  it('plays scripted poll answers first, then the real state', async () => {
    const emu = await start({ enforceInterval: false, autoApprove: true });
    const { verifier, challenge } = pkce();
    const device = await requestDeviceCode(emu, challenge);
    emu.queuePollAnswers('authorization_pending', 'slow_down', 'expired_token', 'access_denied', 'unauthorized');
    const seen: Array<[number, unknown]> = [];
    for (let i = 0; i < 5; i++) {
      const res = await poll(emu, device.device_code, verifier);
      seen.push([res.status, ((await res.json()) as { error: string }).error]);
    }
    expect(seen).toEqual([
      [400, 'authorization_pending'],
      [429, 'slow_down'],
      [400, 'expired_token'],
      [400, 'access_denied'],
      [401, 'invalid_grant'],
    ]);
    expect((await poll(emu, device.device_code, verifier)).status).toBe(200);
  });

  it('auto-approves on the first poll, naming users user1@, user2@ unless told otherwise', async () => {
    const emu = await start({ autoApprove: true, nextEmail: 'first@example.com' });
    const emails: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { verifier, challenge } = pkce();
      const device = await requestDeviceCode(emu, challenge);
      const res = await poll(emu, device.device_code, verifier);
      expect(res.status).toBe(200);
      const { access_token } = (await res.json()) as TokenAnswer;
      const claims = JSON.parse(Buffer.from(access_token.split('.')[1] ?? '', 'base64url').toString()) as { email: string };
      emails.push(claims.email);
    }
    expect(emails).toEqual(['first@example.com', 'user1@example.com', 'user2@example.com']);
  });

  it('reuses the user of an email already seen', async () => {
    const emu = await start({ enforceInterval: false });
    const first = await login(emu, 'bob@example.com');
    const second = await login(emu, 'bob@example.com');
    const sub = (token: string): unknown =>
      (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string }).sub;
    expect(sub(first.access_token)).toBe(sub(second.access_token));
    expect(emu.users()).toEqual([{ email: 'bob@example.com', state: 'ok' }]);
  });

  it('approves or denies through the /authorize page', async () => {
    const emu = await start({ enforceInterval: false });
    const { verifier, challenge } = pkce();
    const device = await requestDeviceCode(emu, challenge);
    const page = await fetch(device.verification_uri_complete);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain(device.user_code);

    const unknown = await postForm(`${emu.url}/authorize`, { user_code: 'ZZZZZZZZ' });
    expect(unknown.status).toBe(404);
    const approved = await postForm(`${emu.url}/authorize`, { user_code: device.user_code, email: 'carol@example.com' });
    expect(approved.status).toBe(200);
    expect(await approved.text()).toContain('carol@example.com');
    expect((await poll(emu, device.device_code, verifier)).status).toBe(200);

    const other = pkce();
    const otherDevice = await requestDeviceCode(emu, other.challenge);
    await postForm(`${emu.url}/authorize`, { user_code: otherDevice.user_code, action: 'deny' });
    expect(await (await poll(emu, otherDevice.device_code, other.verifier)).json()).toEqual({ error: 'access_denied' });
  });

  it('lets a test wait for the next device code', async () => {
    const emu = await start();
    const waiting = emu.waitForDeviceCode(2000);
    const device = await requestDeviceCode(emu, pkce().challenge);
    expect(await waiting).toEqual({ deviceCode: device.device_code, userCode: device.user_code });
    await expect(start().then((e) => e.waitForDeviceCode(20))).rejects.toThrow(/no device code/);
  });
});

describe('refresh grant', () => {
  it('rotates refresh tokens and refuses the old one as the real service does', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu, 'dave@example.com');
    const res = await refresh(emu, tokens.refresh_token ?? '');
    expect(res.status).toBe(200);
    const next = (await res.json()) as TokenAnswer;
    expect(next).toMatchObject({ token_type: 'Bearer', scope: SCOPE, resource_url: emu.url });
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(next.access_token).not.toBe(tokens.access_token);

    const reuse = await refresh(emu, tokens.refresh_token ?? '');
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toEqual({ error: 'invalid_request', error_description: 'Invalid refresh token or client_id' });
    expect((await refresh(emu, next.refresh_token ?? '')).status).toBe(200);
    expect(emu.stats.refreshes).toBe(2);
    expect(emu.stats.refreshAttempts).toBe(3);
    expect(emu.stats.refreshesByEmail).toEqual({ 'dave@example.com': 2 });
  });

  it('refuses a wrong client_id and an unknown grant_type', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    const wrongClient = await postForm(`${emu.url}/api/v1/oauth2/token`, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token ?? '',
      client_id: 'nope',
    });
    expect(wrongClient.status).toBe(400);
    expect(await wrongClient.json()).toMatchObject({ error: 'invalid_request' });
    const password = await postForm(`${emu.url}/api/v1/oauth2/token`, { grant_type: 'password', client_id: CLIENT_ID });
    expect(password.status).toBe(400);
    expect(await password.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('injects transient failures that leave the refresh token valid', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    emu.failNextRefreshes(2, 503);
    for (let i = 0; i < 2; i++) {
      const res = await refresh(emu, tokens.refresh_token ?? '');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'server_error' });
    }
    expect((await refresh(emu, tokens.refresh_token ?? '')).status).toBe(200);
    expect(emu.stats.refreshes).toBe(1);
  });

  it('can omit refresh_token, keeping the old one valid', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    emu.setRefreshOmitsRefreshToken(true);
    const first = (await (await refresh(emu, tokens.refresh_token ?? '')).json()) as TokenAnswer;
    expect(first).not.toHaveProperty('refresh_token');
    expect(first.access_token).toEqual(expect.any(String));
    expect((await refresh(emu, tokens.refresh_token ?? '')).status).toBe(200);
  });

  it('lets only one of two concurrent refreshes of the same token win', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    emu.setRefreshDelay(50);
    const started = Date.now();
    const answers = await Promise.all([refresh(emu, tokens.refresh_token ?? ''), refresh(emu, tokens.refresh_token ?? '')]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    expect(emu.stats.refreshes).toBe(1);
  });

  it('holds the next refresh, counted but not committed, until released; the one after is not held', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    const release = emu.holdNextRefresh();
    let answered = false;
    const held = refresh(emu, tokens.refresh_token ?? '').then((r) => ((answered = true), r));
    await expect.poll(() => emu.stats.refreshAttempts).toBe(1);
    // Another program spends the same refresh token meanwhile: it is not held, and it wins.
    expect((await refresh(emu, tokens.refresh_token ?? '')).status).toBe(200);
    expect(answered).toBe(false);
    expect(emu.stats.refreshes).toBe(1);
    release();
    expect((await held).status).toBe(400);
    expect(emu.stats.refreshAttempts).toBe(2);
  });

  it('lets a held refresh go when it closes', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    emu.holdNextRefresh();
    const held = refresh(emu, tokens.refresh_token ?? '').then(
      () => 'answered',
      () => 'cut',
    );
    await expect.poll(() => emu.stats.refreshAttempts).toBe(1);
    await emu.close();
    expect(await held).toBe('cut');
    expect(emu.stats.refreshes).toBe(0);
  });

  it('does not commit a refresh whose client went away, and counts it as aborted', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu);
    emu.setRefreshDelay(300);
    // The client leaves once the emulator holds its refresh (not after a fixed 50 ms, which on a
    // busy machine could pass before the request even arrived).
    const gone = new AbortController();
    const leaving = refresh(emu, tokens.refresh_token ?? '', gone.signal);
    await expect.poll(() => emu.stats.refreshAttempts).toBe(1);
    gone.abort();
    await expect(leaving).rejects.toThrow();
    await expect.poll(() => emu.abortedRequests).toBe(1);
    emu.setRefreshDelay(0);
    await sleep(300);
    expect((await refresh(emu, tokens.refresh_token ?? '')).status).toBe(200);
    expect(emu.oauthRequests.filter((r) => r.aborted)).toHaveLength(1);
  });
});

describe('API authentication and account states', () => {
  it('accepts current OAuth tokens and API keys, and refuses anything else with 401 invalid_api_key', async () => {
    const emu = await start({ enforceInterval: false, apiKeys: ['sk-test'] });
    const tokens = await login(emu);
    expect((await api(emu, '/v1/models', tokens.access_token)).status).toBe(200);
    expect((await api(emu, '/v1/models', 'sk-test')).status).toBe(200);
    emu.addApiKey('sk-added');
    expect((await api(emu, '/v1/models', 'sk-added')).status).toBe(200);
    for (const token of [undefined, 'sk-wrong', tokens.refresh_token]) {
      const res = await api(emu, '/v1/models', token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(INVALID_TOKEN);
    }
  });

  it('keeps the previous access token valid after a refresh, until expireAccessTokens', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu, 'erin@example.com');
    const other = await login(emu, 'frank@example.com');
    const next = (await (await refresh(emu, tokens.refresh_token ?? '')).json()) as TokenAnswer;
    expect((await api(emu, '/v1/models', tokens.access_token)).status).toBe(200);
    expect((await api(emu, '/v1/models', next.access_token)).status).toBe(200);

    emu.expireAccessTokens('erin@example.com');
    expect((await api(emu, '/v1/models', tokens.access_token)).status).toBe(401);
    expect((await api(emu, '/v1/models', next.access_token)).status).toBe(401);
    expect((await api(emu, '/v1/models', other.access_token)).status).toBe(200);
    const fresh = (await (await refresh(emu, next.refresh_token ?? '')).json()) as TokenAnswer;
    expect((await api(emu, '/v1/models', fresh.access_token)).status).toBe(200);
    emu.expireAccessTokens();
    expect((await api(emu, '/v1/models', other.access_token)).status).toBe(401);
  });

  it('stops accepting an access token after accessTtl', async () => {
    let now = Date.now();
    const emu = await start({ enforceInterval: false, accessTtl: 0.1, now: () => now });
    const tokens = await login(emu);
    expect(tokens.expires_in).toBe(0.1);
    expect((await api(emu, '/v1/models', tokens.access_token)).status).toBe(200);
    now += 150;
    expect((await api(emu, '/v1/models', tokens.access_token)).status).toBe(401);
  });

  it('answers 429 insufficient_quota for a user or key over quota', async () => {
    const emu = await start({ enforceInterval: false, apiKeys: ['sk-test'] });
    const tokens = await login(emu, 'gina@example.com');
    emu.setUserState('gina@example.com', 'quota');
    const res = await api(emu, '/v1/chat/completions', tokens.access_token, hello);
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual(QUOTA);

    emu.setApiKeyState('sk-test', 'quota');
    const keyRes = await api(emu, '/v1/chat/completions', 'sk-test', hello);
    expect(keyRes.status).toBe(429);
    expect(await keyRes.json()).toEqual(QUOTA);
    expect(() => emu.setApiKeyState('sk-unknown', 'ok')).toThrow();
    emu.setApiKeyState('sk-test', 'ok');
    expect((await api(emu, '/v1/chat/completions', 'sk-test', hello)).status).toBe(200);
  });

  it('refuses a not-served user with 401 even with a freshly refreshed token', async () => {
    const emu = await start({ enforceInterval: false });
    const tokens = await login(emu, 'hank@example.com');
    emu.setUserState('hank@example.com', 'not-served');
    const next = (await (await refresh(emu, tokens.refresh_token ?? '')).json()) as TokenAnswer;
    const res = await api(emu, '/v1/chat/completions', next.access_token, hello);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(INVALID_TOKEN);
    expect(emu.users()).toEqual([{ email: 'hank@example.com', state: 'not-served' }]);
  });

  it('with notServed, logs in and refreshes every user but serves none', async () => {
    const emu = await start({ enforceInterval: false, notServed: true, apiKeys: ['sk-test'] });
    const tokens = await login(emu);
    const refreshed = await refresh(emu, tokens.refresh_token ?? '');
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as TokenAnswer;
    expect((await api(emu, '/v1/models', next.access_token)).status).toBe(401);
    expect((await api(emu, '/v1/models', 'sk-test')).status).toBe(200);
  });
});

describe('chat completions', () => {
  it('answers a chat.completion with the default or configured reply', async () => {
    const emu = await start({ apiKeys: ['k'], extraModels: ['my-model'] });
    const res = await api(emu, '/v1/chat/completions', 'k', hello);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'coder-model',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the Qwen emulator (coder-model)' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) },
    });

    emu.setReply('custom reply');
    const custom = (await (await api(emu, '/v1/chat/completions', 'k', { ...hello, model: 'my-model' })).json()) as {
      choices: Array<{ message: { content: string } }>;
    };
    expect(custom.choices[0]?.message.content).toBe('custom reply');
    const fromOption = await start({ apiKeys: ['k'], reply: 'from option' });
    expect(await (await api(fromOption, '/v1/chat/completions', 'k', hello)).text()).toContain('from option');
  });

  it('rejects unknown models, over-large max_tokens, bad JSON and missing fields', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const unknown = await api(emu, '/v1/chat/completions', 'k', { ...hello, model: 'gpt-4o' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: { message: 'model not found', type: 'invalid_request_error', code: 'model_not_found' },
    });

    const tooMany = await api(emu, '/v1/chat/completions', 'k', { ...hello, max_tokens: 65537 });
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toEqual({
      error: { message: 'Range of max_tokens should be [1, 65536]', type: 'invalid_request_error', code: 'invalid_parameter_error' },
    });
    const vision = await api(emu, '/v1/chat/completions', 'k', { ...hello, model: 'vision-model', max_completion_tokens: 8193 });
    expect(vision.status).toBe(400);
    expect(await vision.json()).toMatchObject({ error: { message: 'Range of max_tokens should be [1, 8192]' } });
    expect((await api(emu, '/v1/chat/completions', 'k', { ...hello, model: 'vision-model', max_tokens: 8192 })).status).toBe(200);

    const badJson = await fetch(`${emu.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: '{"model":',
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: { type: 'invalid_request_error' } });

    const textPlain = await fetch(`${emu.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer k' },
      body: JSON.stringify(hello),
    });
    expect(textPlain.status).toBe(400);
    expect((await api(emu, '/v1/chat/completions', 'k', { messages: hello.messages })).status).toBe(400);
    expect((await api(emu, '/v1/chat/completions', 'k', { model: 'coder-model' })).status).toBe(400);
  });

  it('answers tool calls to the first tool, and text after a tool result', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const weather = {
      type: 'function',
      function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
    };
    const noArgs = { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } };
    type ToolAnswer = {
      choices: Array<{ finish_reason: string; message: { content: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }> } }>;
    };
    const withLocation = (await (await api(emu, '/v1/chat/completions', 'k', { ...hello, tools: [weather, noArgs] })).json()) as ToolAnswer;
    expect(withLocation.choices[0]?.finish_reason).toBe('tool_calls');
    expect(withLocation.choices[0]?.message.tool_calls?.[0]?.function).toEqual({ name: 'get_weather', arguments: '{"location":"Paris"}' });

    const without = (await (await api(emu, '/v1/chat/completions', 'k', { ...hello, tools: [noArgs] })).json()) as ToolAnswer;
    expect(without.choices[0]?.message.tool_calls?.[0]?.function).toEqual({ name: 'now', arguments: '{}' });

    const callId = withLocation.choices[0]?.message.tool_calls?.[0]?.id;
    const followUp = (await (
      await api(emu, '/v1/chat/completions', 'k', {
        ...hello,
        tools: [weather],
        messages: [...hello.messages, { role: 'assistant', content: null, tool_calls: withLocation.choices[0]?.message.tool_calls }, { role: 'tool', tool_call_id: callId, content: 'sunny' }],
      })
    ).json()) as ToolAnswer;
    expect(followUp.choices[0]?.finish_reason).toBe('stop');
  });

  it('streams chunks: role first, content deltas, finish, usage, [DONE]', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const res = await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseData(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { object: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe('Hello from the Qwen emulator (coder-model)');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(5);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });

    const noUsage = sseData(await (await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true })).text());
    expect(noUsage.some((e) => e.includes('"total_tokens"'))).toBe(false);
  });

  it('streams tool calls as tool_call deltas', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const tool = { type: 'function', function: { name: 'get_weather', parameters: { properties: { location: {} } } } };
    const events = sseData(await (await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true, tools: [tool] })).text());
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ delta: { tool_calls?: Array<{ index: number; id?: string; function: { name?: string; arguments: string } }> }; finish_reason: string | null }> });
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: expect.any(String), function: { name: 'get_weather' } });
    expect(calls.map((c) => c.function.arguments).join('')).toBe('{"location":"Paris"}');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('answers scripted replies in order: parallel tool calls, reasoning, a length stop, cached tokens', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const tools = ['read', 'write'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } }));
    emu.queueReplies(
      { toolCalls: [{ name: 'read', arguments: { path: 'a' } }, { name: 'write', arguments: '{"path":"b"}', id: 'call_fixed' }] },
      { text: 'partial', reasoning: 'hmm', finishReason: 'length', cachedTokens: 7 },
    );
    type Answer = { choices: Array<{ finish_reason: string; message: { content: string | null; reasoning_content?: string; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }> } }>; usage: { prompt_tokens_details?: { cached_tokens: number } } };
    const first = (await (await api(emu, '/v1/chat/completions', 'k', { ...hello, tools })).json()) as Answer;
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(first.choices[0]?.message.tool_calls?.map((c) => [c.function.name, c.function.arguments])).toEqual([['read', '{"path":"a"}'], ['write', '{"path":"b"}']]);
    expect(first.choices[0]?.message.tool_calls?.[1]?.id).toBe('call_fixed');
    const streamed = sseData(await (await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true, stream_options: { include_usage: true } })).text());
    const chunks = streamed.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ delta: { content?: string; reasoning_content?: string }; finish_reason: string | null }>; usage?: Answer['usage'] })
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')).toBe('hmm');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('partial');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.at(-1)?.usage?.prompt_tokens_details).toEqual({ cached_tokens: 7 });
    // Then the default again.
    expect(((await (await api(emu, '/v1/chat/completions', 'k', hello)).json()) as Answer).choices[0]?.message.content).toMatch(/^Hello from/);
  });

  it('reasons when asked with enable_thinking, and ends text at a stop sequence without saying which', async () => {
    const emu = await start({ apiKeys: ['k'], reply: 'one two three' });
    type Answer = { choices: Array<{ finish_reason: string; message: { content: string; reasoning_content?: string } }> };
    const thinking = (await (await api(emu, '/v1/chat/completions', 'k', { ...hello, enable_thinking: true, thinking_budget: 100 })).json()) as Answer;
    expect(thinking.choices[0]?.message.reasoning_content).toBeTruthy();
    expect((await api(emu, '/v1/chat/completions', 'k', { ...hello, enable_thinking: true, thinking_budget: 0 })).status).toBe(400);
    const stopped = (await (await api(emu, '/v1/chat/completions', 'k', { ...hello, stop: ['three', 'two'] })).json()) as Answer;
    expect(stopped.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'one ' } });
  });

  it('refuses conversations the real API refuses: unknown roles and parts, orphan tool results, malformed tool calls', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const bad = [
      [{ role: 'developer', content: 'x' }],
      [{ role: 'user', content: [{ type: 'input_text', text: 'x' }] }],
      [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_nobody_made', content: 'r' }],
      [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: { a: 1 } } }] }],
      [{ role: 'user' }],
    ];
    for (const messages of bad) expect((await api(emu, '/v1/chat/completions', 'k', { ...hello, messages })).status, JSON.stringify(messages)).toBe(400);
    const good = [
      { role: 'system', content: 's' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'r' },
    ];
    expect((await api(emu, '/v1/chat/completions', 'k', { ...hello, messages: good })).status).toBe(200);
  });

  it('flushes each event at once, spaced by the stream delay', async () => {
    const emu = await start({ apiKeys: ['k'], streamDelayMs: 60 });
    const started = Date.now();
    const res = await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    while (!(await reader.read()).done) {
      // drain
    }
    const total = Date.now() - started;
    // role, 5 contents, finish, [DONE]: 7 gaps of 60 ms.
    expect(total).toBeGreaterThanOrEqual(7 * 60 - 10);
    expect(firstAt).toBeLessThan(total - 300);

    // A delay that would outlast the test's time limit, taken off again: the stream is whole.
    emu.setStreamDelay(3_600_000);
    emu.setStreamDelay(0);
    expect(sseData(await (await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true })).text()).at(-1)).toBe('[DONE]');
  });

  it('breaks the next stream after n events without [DONE]', async () => {
    const emu = await start({ apiKeys: ['k'] });
    emu.breakNextStream(3);
    const res = await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          text += new TextDecoder().decode(value);
        }
      })(),
    ).rejects.toThrow();
    expect(sseData(text)).toHaveLength(3);
    expect(text).not.toContain('[DONE]');
    expect(emu.abortedRequests).toBe(0);
    // Only the next stream breaks.
    expect(sseData(await (await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true })).text()).at(-1)).toBe('[DONE]');
  });
});

describe('failure injection and request records', () => {
  it('fails the next n requests with an OpenAI-shaped 5xx', async () => {
    const emu = await start({ apiKeys: ['k'] });
    emu.failNextRequests(2, 503);
    for (let i = 0; i < 2; i++) {
      const res = await api(emu, '/v1/chat/completions', 'k', hello);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { type: 'server_error', message: expect.any(String), code: expect.any(String) } });
    }
    expect((await api(emu, '/v1/chat/completions', 'k', hello)).status).toBe(200);
    emu.failNextRequests(1);
    expect((await api(emu, '/v1/models', 'k')).status).toBe(500);
  });

  it('delays the next response only', async () => {
    const emu = await start({ apiKeys: ['k'] });
    emu.delayNextResponse(1000);
    const started = Date.now();
    let delayedAnswered = false;
    const delayed = api(emu, '/v1/models', 'k').then((res) => {
      delayedAnswered = true;
      return res;
    });
    await expect.poll(() => emu.requests.length).toBe(1);
    // The request after it is not delayed: it is answered while the first still waits.
    expect((await api(emu, '/v1/models', 'k')).status).toBe(200);
    expect(delayedAnswered).toBe(false);
    expect((await delayed).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('counts requests whose client disconnected before the response ended', async () => {
    const emu = await start({ apiKeys: ['k'], streamDelayMs: 100 });
    emu.delayNextResponse(500);
    // The client leaves once the emulator holds its request (a fixed 50 ms could pass before it arrived).
    const gone = new AbortController();
    const leaving = api(emu, '/v1/chat/completions', 'k', hello, { signal: gone.signal });
    await expect.poll(() => emu.requests.length).toBe(1);
    gone.abort();
    await expect(leaving).rejects.toThrow();
    await expect.poll(() => emu.abortedRequests, { timeout: 1000 }).toBe(1);

    const controller = new AbortController();
    const res = await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true }, { signal: controller.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    await expect.poll(() => emu.abortedRequests, { timeout: 1000 }).toBe(2);
    expect(emu.requests.map((r) => r.aborted)).toEqual([true, true]);
  });

  it('records every API request with lowercased headers, bearer token, body and status', async () => {
    const emu = await start({ apiKeys: ['k'] });
    await fetch(`${emu.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer k', 'Content-Type': 'application/json', 'X-DashScope-AuthType': 'qwen-oauth' },
      body: JSON.stringify(hello),
    });
    await api(emu, '/v1/models', undefined);
    expect(emu.requests).toHaveLength(2);
    const [chat, models] = emu.requests;
    expect(chat).toMatchObject({ method: 'POST', path: '/v1/chat/completions', auth: 'k', body: hello, status: 200, aborted: false });
    expect(chat?.headers['x-dashscope-authtype']).toBe('qwen-oauth');
    expect(chat?.at).toBeGreaterThan(Date.now() - 5000);
    expect(models).toMatchObject({ method: 'GET', path: '/v1/models', auth: undefined, body: undefined, status: 401 });

    await login(emu);
    expect(emu.oauthRequests.map((r) => r.path)).toEqual(['/api/v1/oauth2/device/code', '/api/v1/oauth2/token']);
    expect(emu.oauthRequests[0]?.body).toMatchObject({ client_id: CLIENT_ID, scope: SCOPE });

    const kept = emu.requests;
    emu.reset();
    expect(kept).toHaveLength(0);
    expect(emu.oauthRequests).toHaveLength(0);
    expect(emu.stats).toMatchObject({ deviceCodeRequests: 0, polls: 0, pollTimes: [], refreshes: 0, refreshesByEmail: {} });
  });
});

describe('other endpoints', () => {
  it('lists models', async () => {
    const emu = await start({ apiKeys: ['k'], extraModels: ['qwen3-coder-flash'] });
    const body = (await (await api(emu, '/v1/models', 'k')).json()) as { object: string; data: Array<{ id: string; object: string; owned_by: string }> };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual(['coder-model', 'vision-model', 'qwen3-coder-plus', 'qwen3-coder-flash']);
    expect(body.data[0]).toMatchObject({ object: 'model', owned_by: 'qwen' });
  });

  it('answers /v1/completions and /v1/embeddings', async () => {
    const emu = await start({ apiKeys: ['k'] });
    const completion = await api(emu, '/v1/completions', 'k', { model: 'coder-model', prompt: 'Say hi' });
    expect(await completion.json()).toMatchObject({
      object: 'text_completion',
      choices: [{ text: 'Hello from the Qwen emulator (coder-model)', finish_reason: 'stop' }],
    });
    const streamed = sseData(await (await api(emu, '/v1/completions', 'k', { model: 'coder-model', prompt: 'x', stream: true })).text());
    expect(streamed.at(-1)).toBe('[DONE]');
    expect((await api(emu, '/v1/completions', 'k', { model: 'coder-model' })).status).toBe(400);
    expect((await api(emu, '/v1/completions', undefined, { model: 'coder-model', prompt: 'x' })).status).toBe(401);

    const embedding = (await (await api(emu, '/v1/embeddings', 'k', { model: 'text-embedding-v3', input: ['a', 'b'] })).json()) as {
      object: string;
      data: Array<{ object: string; index: number; embedding: number[] }>;
    };
    expect(embedding.object).toBe('list');
    expect(embedding.data.map((d) => d.index)).toEqual([0, 1]);
    expect(embedding.data[0]?.embedding.length).toBeGreaterThan(0);
    expect((await api(emu, '/v1/embeddings', undefined, { model: 'm', input: 'a' })).status).toBe(401);
  });

  it('answers 404 to unknown paths and 405 to wrong methods, OpenAI-shaped', async () => {
    const emu = await start({ apiKeys: ['k'] });
    for (const path of ['/chat/completions', '/v1/v1/chat/completions', '/nothing']) {
      const res = await api(emu, path, 'k', hello);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { message: expect.any(String), type: 'invalid_request_error', code: 'not_found' } });
    }
    expect((await api(emu, '/v1/chat/completions', 'k')).status).toBe(405);
  });
});

describe('lifecycle', () => {
  it('close() force-closes open streams', async () => {
    const emu = await startEmulator({ apiKeys: ['k'], streamDelayMs: 10_000 });
    const res = await api(emu, '/v1/chat/completions', 'k', { ...hello, stream: true });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    // The stream has seconds of delays to go: close() returns without waiting for them, and cuts it.
    await emu.close();
    await expect(reader.read()).rejects.toThrow();
    await expect(fetch(`${emu.url}/v1/models`)).rejects.toThrow();
  });

  const bun = fileURLToPath(new URL('../node_modules/.bin/bun', import.meta.url));
  it.skipIf(!existsSync(bun))(
    'runs standalone: prints the URL as one JSON line and stops on SIGTERM',
    { timeout: 15_000 },
    async () => {
      const cli = fileURLToPath(new URL('./fixtures/emulator-cli.ts', import.meta.url));
      const child = spawn(bun, [cli, '--port', '0', '--auto-approve', '--api-key', 'sk-test', '--stream-delay-ms', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            if (out.includes('\n')) resolve(out);
          });
          child.once('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
        });
        expect(line.trim().split('\n')).toHaveLength(1);
        const { url } = JSON.parse(line) as { url: string };
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const res = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer sk-test' } });
        expect(res.status).toBe(200);
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
  );
});
