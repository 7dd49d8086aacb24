import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { accountNames, runCompletion } from '../src/commands/completion.ts'
import { inProcess, succeeded } from './helpers/in-process.ts'
import { proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { completeInBash } from './helpers/shell-complete.ts'

/**
 * Account labels reach the bash completion through `compgen -W "$(qwenauth completion --accounts)"`,
 * and compgen expands its word list: command substitution included. A label is not the owner's
 * word alone: anyone holding one of `serve`'s client keys can add a key account with any label
 * through the status page (`POST /ui/add-key`), and the owner then runs that label as code the
 * next time they press Tab after `qwenauth use `.
 */
const KEY = 'sk-client-key-completion-4242'
let fx: ProxyFixture | undefined
afterEach(async () => {
  await fx?.cleanup()
  fx = undefined
})

const bash = spawnSync('bash', ['--version']).status === 0

describe('bash completion of account names', () => {
  it.skipIf(!bash)('offers a label a client added through the status page as a word, never runs it', async () => {
    fx = await proxyFixture()
    const marker = join(fx.home, 'label-was-run')
    const label = `$(touch\${IFS}${marker})`
    fx.emu.addApiKey('sk-added-by-a-client-7777')
    const app = proxyApp(fx, { apiKeys: [KEY], statusPage: true })
    const added = await app.fetch(
      new Request('http://127.0.0.1:8787/ui/add-key', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ provider: `${fx.emu.url}/v1`, apiKey: 'sk-added-by-a-client-7777', label }),
      }),
    )
    expect(added.status, await added.clone().text()).toBe(200)

    // What `qwenauth completion --accounts` prints for this store, served by a stand-in `qwenauth`.
    const names = succeeded(await inProcess({ home: fx.home }, accountNames))
    expect(names).toContain(label)
    const bin = join(fx.home, 'bin')
    mkdirSync(bin)
    writeFileSync(join(fx.home, 'names.txt'), `${names.join('\n')}\n`)
    writeFileSync(join(bin, 'qwenauth'), `#!/bin/sh\ncat '${join(fx.home, 'names.txt')}'\n`)
    chmodSync(join(bin, 'qwenauth'), 0o755)

    const [offered] = completeInBash(await runCompletion('bash'), ['qwenauth use '], { PATH: `${bin}${delimiter}${process.env.PATH}`, HOME: fx.home })
    expect(existsSync(marker)).toBe(false)
    expect(offered).toContain(label)
  })
})
