/**
 * Secrets an OAuth server or an upstream repeats in its error messages never reach output: not
 * the refresh token, the device code or the PKCE verifier, nor an API key in `status`. The
 * commands that print an error run as processes (the CLI prints the error line), the compiled
 * binary: nothing here is about a runtime, and it starts in a third of the Node bundle's CPU
 * time. `status` runs in-process.
 */
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './fixtures/qwen-emulator.ts'
import { accountsPath, credsPath, expireStoredTokens, loginViaEmulator, readJsonFile } from './helpers/accounts.ts'
import { runCli, tempHome } from './helpers/cli.ts'
import { runInProcess } from './helpers/in-process.ts'

let emu: Emulator
let home: string
let cleanup: () => void
beforeEach(async () => {
  ;({ home, cleanup } = tempHome())
  emu = await startEmulator({ autoApprove: true, interval: 0.05 })
})
afterEach(async () => {
  await emu.close()
  cleanup()
})

/** An OAuth server that repeats what it was sent in its error messages (some gateways do). */
async function echoingOAuthServer(status: number, expiresIn = 30): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const form = new URLSearchParams(body)
      if (req.url?.endsWith('/device/code')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ device_code: 'dc-0123456789abcdefXYZ', user_code: 'ABCD1234', verification_uri: 'http://x/authorize', expires_in: expiresIn, interval: 0.05 }))
        return
      }
      res.writeHead(status, { 'content-type': 'application/json' })
      const echoed = [form.get('refresh_token'), form.get('device_code'), form.get('code_verifier')].filter(Boolean).join(' and ')
      res.end(JSON.stringify({ error: 'server_error', error_description: `could not use ${echoed} now` }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) }
}

describe('secrets in output', () => {
  it.each([500, 400])('a refresh error that repeats the refresh token (HTTP %i) never prints it', async (status) => {
    await loginViaEmulator(home, emu)
    expireStoredTokens(home)
    const refreshToken = readJsonFile(credsPath(home)).refresh_token
    const echo = await echoingOAuthServer(status)
    try {
      const result = await runCli(['token'], { home, runtime: 'binary', env: { QWENAUTH_OAUTH_URL: echo.url, QWENAUTH_DEBUG: '1' } })
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/could not use/)
      expect(result.stderr + result.stdout).not.toContain(refreshToken)
      for (const args of [['status'], ['status', '--json']]) {
        const shown = await runInProcess(args, { home })
        expect(shown.stdout).not.toContain(refreshToken)
      }
    } finally {
      await echo.close()
    }
  })

  it('a login error that repeats the device code and PKCE verifier never prints them', async () => {
    // A 5xx while polling does not end the login (the server failed, not the login): it is said
    // once, and polling goes on until the code expires (1 s here), then exit 4.
    const echo = await echoingOAuthServer(500, 1)
    try {
      const result = await runCli(['login'], { home, runtime: 'binary', env: { QWENAUTH_OAUTH_URL: echo.url, QWENAUTH_DEBUG: '1' } })
      expect(result.code).toBe(4)
      expect(result.stderr).toMatch(/could not use \[redacted\] and \[redacted\] now/)
      expect(result.stderr).not.toContain('dc-0123456789abcdefXYZ')
    } finally {
      await echo.close()
    }
  })

  it('status never shows a key that an upstream error message repeated', async () => {
    const key = 'plainkey-0123456789abcdef'
    emu.addApiKey(key)
    const login = await runInProcess(['login', '--provider', `${emu.url}/v1`], { home, input: key })
    expect(login.code, login.stderr).toBe(0)
    const doc = readJsonFile(accountsPath(home))
    Object.assign(doc.accounts[0], { status: 'cooling-down', cooldownUntil: Date.now() + 600_000, lastError: { message: `rate limited (too many requests for key ${key})`, at: Date.now() } })
    writeFileSync(accountsPath(home), JSON.stringify(doc, null, 2))
    writeFileSync(join(home, 'qwenauth', 'stats.json'), JSON.stringify({ version: 1, accounts: { [doc.accounts[0].id]: { requests: 1, failures: 1, promptTokens: 0, completionTokens: 0, lastError: { message: `upstream said: bad key ${key}`, at: Date.now() } } } }))
    for (const args of [['status'], ['status', '--json']]) {
      const shown = await runInProcess(args, { home })
      expect(shown.code, shown.stderr).toBe(0)
      expect(shown.stdout).toMatch(/too many requests for key/)
      expect(shown.stdout).not.toContain(key)
    }
  })
})
