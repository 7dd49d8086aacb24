import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { accountNames, runCompletion } from '../src/commands/completion.ts'
import { inProcess, succeeded } from './helpers/in-process.ts'
import { proxyApp, proxyFixture, type ProxyFixture } from './helpers/proxy-fixtures.ts'
import { completeInBash, completeInFish, completeInZsh } from './helpers/shell-complete.ts'

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

const installed = (shell: string) => spawnSync(shell, ['--version']).status === 0
const bash = installed('bash')

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
    // bash inserts a reply as it stands (and the line runs it on Enter), so the label comes quoted
    // for the shell: read back as a word on a command line, a reply is the label itself.
    const asTyped = offered!.map((reply) => spawnSync('bash', ['--norc', '--noprofile', '-c', `printf '%s' ${reply}`], { encoding: 'utf8' }).stdout)
    expect(existsSync(marker)).toBe(false)
    expect(asTyped).toContain(label)
  })

  // Other forms of code, and a glob, in each shell. zsh and fish take the names as data
  // (compadd -a, fish's command substitution) and quote what they insert themselves. zsh's matches are the quoted words; fish's
  // `complete -C` lists its candidates as they are, and escapes one when it inserts it.
  const readBack = {
    bash: (reply: string) => spawnSync('bash', ['--norc', '--noprofile', '-c', `printf '%s' ${reply}`], { encoding: 'utf8' }).stdout,
    zsh: (reply: string) => spawnSync('zsh', ['-f', '-c', `print -rn -- ${reply}`], { encoding: 'utf8' }).stdout,
    fish: (reply: string) => reply,
  }
  for (const [shell, complete] of [['bash', completeInBash], ['zsh', completeInZsh], ['fish', completeInFish]] as const) {
    it.skipIf(!installed(shell))(`${shell}: offers labels that read as shell code as words, never runs them`, async () => {
      fx = await proxyFixture()
      const marker = join(fx.home, 'label-was-run')
      const labels = [`$(touch\${IFS}${marker})`, `\`touch ${marker}-2\``, `(touch ${marker}-3)`, '*']
      const bin = join(fx.home, 'bin')
      mkdirSync(bin)
      writeFileSync(join(fx.home, 'names.txt'), `${labels.join('\n')}\n`)
      writeFileSync(join(bin, 'qwenauth'), `#!/bin/sh\ncat '${join(fx.home, 'names.txt')}'\n`)
      chmodSync(join(bin, 'qwenauth'), 0o755)
      const [offered] = complete(await runCompletion(shell), ['qwenauth use '], { PATH: `${bin}${delimiter}${process.env.PATH}`, HOME: fx.home })
      expect(readdirSync(fx.home).filter((f) => f.startsWith('label-was-run'))).toEqual([])
      const asTyped = offered!.map(readBack[shell])
      expect(readdirSync(fx.home).filter((f) => f.startsWith('label-was-run'))).toEqual([])
      expect(asTyped.sort()).toEqual([...labels].sort())
    })
  }
})
