/**
 * `npm run demo`: the main job end to end with no network. Starts the local Qwen emulator,
 * logs in against it (approved automatically after a moment, as a person on a phone would),
 * shows `status`, prints a token, runs a program under `exec`, and stops. Everything lives in a temporary QWEN_HOME.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'pathe'
import { startEmulator } from '../test/fixtures/qwen-emulator.ts'

const root = join(import.meta.dirname, '..')
const home = mkdtempSync(join(tmpdir(), 'qwenauth-demo-'))
const emulator = await startEmulator({ interval: 0.5, nextEmail: 'demo@example.com' })
const env = { ...process.env, QWEN_HOME: home, QWENAUTH_OAUTH_URL: emulator.url, QWENAUTH_NO_BROWSER: '1' }

/** Async on purpose: the emulator answers from this same process. */
async function qwenauth(args: string[], title: string, shown = args.join(' ')): Promise<string> {
  process.stderr.write(`\n\x1b[1m$ qwenauth ${shown}\x1b[0m   # ${title}\n`)
  const child = spawn(process.execPath, [join(root, 'src/cli.ts'), ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    process.stdout.write(chunk)
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`qwenauth ${args[0]} exited with ${code}`)
  return stdout
}

try {
  process.stderr.write(`Local Qwen emulator at ${emulator.url}; QWEN_HOME=${home}\n`)
  // Approve the login the way a person would: a moment after the code appears.
  void emulator.waitForDeviceCode(10_000).then(async ({ userCode }) => {
    await new Promise((r) => setTimeout(r, 1500))
    emulator.approve(userCode)
  })
  await qwenauth(['login', '--no-browser'], 'device flow: URL, code, then polling until approved')
  await qwenauth(['status'], 'the account pool')
  const token = (await qwenauth(['token'], 'a valid access token on stdout, for scripts')).trim()
  const reply = await fetch(`${emulator.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'coder-model', messages: [{ role: 'user', content: 'hi' }] }),
  })
  const answer = (await reply.json()) as { choices: Array<{ message: { content: string } }> }
  process.stderr.write(`\nThe emulated Qwen API accepts that token: "${answer.choices[0]?.message.content}"\n`)
  // A program run under `exec` gets OPENAI_* pointing at a private proxy, never the real token.
  const child = `fetch(process.env.OPENAI_BASE_URL + '/chat/completions', { method: 'POST',
    headers: { Authorization: 'Bearer ' + process.env.OPENAI_API_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: process.env.OPENAI_MODEL, messages: [{ role: 'user', content: 'hi' }] }) })
    .then((r) => r.json()).then((j) => console.log('the program got:', j.choices[0].message.content, 'via', process.env.OPENAI_BASE_URL))`
  await qwenauth(['exec', '--', 'node', '-e', child], 'any program, with OPENAI_* set', `exec -- node -e '<POST $OPENAI_BASE_URL/chat/completions>'`)
} finally {
  await emulator.close()
  rmSync(home, { recursive: true, force: true })
}
