import { defineCommand } from 'citty'
import { bashScript } from '../completion/bash.ts'
import { fishScript } from '../completion/fish.ts'
import { completionSpec } from '../completion/spec.ts'
import { zshScript } from '../completion/zsh.ts'
import { createContext } from '../context.ts'
import { usageError } from '../lib/errors.ts'
import { VERSION } from '../lib/version.ts'
import { withExtras } from './_extras.ts'
import { printOut } from './_shared.ts'

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const
type Shell = keyof typeof SHELLS

/** The script for a shell, made from the command definitions of this very binary. */
export async function runCompletion(shell: string): Promise<string> {
  if (!(shell in SHELLS)) throw usageError(`completion is for ${Object.keys(SHELLS).join(', ')}, not "${shell}"`)
  return SHELLS[shell as Shell](await completionSpec(), VERSION)
}

/** What the scripts offer for an account: ids, then labels (one a line). No secrets. */
export async function accountNames(): Promise<string[]> {
  const ctx = createContext()
  try {
    const { accounts } = await ctx.accounts.read()
    const labels = accounts.map((a) => a.label).filter((label) => !/\s/.test(label))
    return [...new Set([...accounts.map((a) => a.id), ...labels])]
  } finally {
    await ctx.close()
  }
}

const details = [
  'Load it in your shell:',
  '  bash  ~/.bashrc:   source <(qwenauth completion bash)',
  '  zsh   ~/.zshrc:    source <(qwenauth completion zsh)    (after compinit)',
  '  fish  once:        qwenauth completion fish > ~/.config/fish/completions/qwenauth.fish',
  'It completes commands, flags, their values, and account ids and labels (read from the store when you press Tab).',
].join('\n')

export default withExtras(
  defineCommand({
    meta: { name: 'completion', description: 'Print a shell completion script for bash, zsh or fish' },
    args: {
      shell: { type: 'positional', required: false, description: 'bash, zsh or fish' },
      accounts: { type: 'boolean', description: 'Print the account ids and labels instead, one a line (what the scripts call)' },
    },
    async run({ args }) {
      if (args.accounts) {
        const names = await accountNames()
        if (names.length > 0) printOut(names.join('\n'))
        return
      }
      if (!args.shell) throw usageError('name the shell: qwenauth completion bash|zsh|fish')
      process.stdout.write(await runCompletion(args.shell))
    },
  }),
  { details, usage: 'qwenauth completion bash|zsh|fish', values: { shell: Object.keys(SHELLS) } },
)
