import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { python3 } from './python.ts'

/**
 * What each shell offers when Tab is pressed at the end of each line, with the completion script
 * loaded the way its users load it. Returns the candidates per line, sorted and de-duplicated.
 */
export type Completer = (script: string, lines: string[], env: NodeJS.ProcessEnv) => string[][]

const SEPARATOR = '@@next@@'

function blocks(stdout: string, count: number, shell: string, stderr: string): string[][] {
  const parts = stdout.split(`${SEPARATOR}\n`).slice(0, count)
  if (parts.length !== count) throw new Error(`${shell} completed ${parts.length} of ${count} lines\nstdout: ${stdout}\nstderr: ${stderr}`)
  return parts.map((p) => [...new Set(p.split('\n').filter(Boolean))].sort())
}

/** bash calls the function `complete -F` registered with COMP_WORDS/COMP_CWORD set, as readline does. */
export const completeInBash: Completer = (script, lines, env) =>
  withScriptFile(script, (file) => {
    const program = `
source "$0"
for line in "$@"; do
  read -ra COMP_WORDS <<< "$line"
  [[ $line == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMP_LINE=$line; COMP_POINT=\${#line}; COMPREPLY=()
  $(complete -p qwenauth | sed -E 's/.*-F ([^ ]+).*/\\1/') qwenauth "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\\n' "\${COMPREPLY[@]}"
  echo ${SEPARATOR}
done`
    const result = spawnSync('bash', ['--norc', '--noprofile', '-c', program, file, ...lines], { env, encoding: 'utf8', timeout: 20_000 })
    return blocks(result.stdout, lines.length, 'bash', result.stderr)
  })

/** fish's own engine: `complete -C` answers what Tab would offer. */
export const completeInFish: Completer = (script, lines, env) =>
  withScriptFile(script, (file) => {
    const program = `source $argv[1]; for line in $argv[2..-1]; complete -C "$line" | string split -f1 \\t; echo ${SEPARATOR}; end`
    const result = spawnSync('fish', ['--no-config', '-c', program, file, ...lines], { env, encoding: 'utf8', timeout: 20_000 })
    return blocks(result.stdout, lines.length, 'fish', result.stderr)
  })

// zsh completes only inside its line editor, so an interactive zsh runs on a pseudo-terminal
// (python3's pty module), and each line is typed followed by Tab. compadd is wrapped to print
// the matches it adds (after compsys's own matching); a marker starts each completion (compsys
// empties compprefuncs once it ran them, so the marker puts itself back), and one more
// completion after the last line ends its block.
const ZSH_RELAY = `
import os, pty, re, select, sys, time, signal
script, lines = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp('zsh', ['zsh', '-f', '-i'])
setup = r'''stty -echo; PROMPT=; RPROMPT=
autoload -Uz compinit && compinit -u -D
source %s
compadd() { if (( \${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi; local -a __hits; builtin compadd -A __hits "$@"; local h; for h in $__hits; do print -r -- "<<$h>>"; done; builtin compadd "$@" }
zstyle ':completion:*' insert-tab false
__mark() { print -r -- "@@MA""RK@@"; compprefuncs=(__mark) }
compprefuncs=(__mark)
bindkey '^I' complete-word
''' % script
os.write(fd, setup.encode())
out = b''
deadline = time.time() + 20
for i, line in enumerate(lines + ['qwenauth ']):
    os.write(fd, b'\\x15' + line.encode() + b'\\t')
    while time.time() < deadline and out.count(b'@@MARK@@') <= i:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
for block in out.decode('utf8', 'replace').split('@@MARK@@')[1:len(lines) + 1]:
    for hit in re.findall(r'<<(.*?)>>', block):
        print(hit)
    print('${SEPARATOR}')
`

export const completeInZsh: Completer = (script, lines, env) =>
  withScriptFile(script, (file) => {
    const result = spawnSync(python3(), ['-c', ZSH_RELAY, file, ...lines], { env, encoding: 'utf8', timeout: 30_000 })
    return blocks(result.stdout, lines.length, 'zsh', result.stderr)
  })

/** The script as a file, as users save it (node's pipes are sockets, which `source` refuses). */
function withScriptFile<T>(script: string, use: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'qwenauth-completion-'))
  try {
    const file = join(dir, '_qwenauth')
    writeFileSync(file, script)
    return use(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
