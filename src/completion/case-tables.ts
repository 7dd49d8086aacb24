import type { CommandSpec, ValueSource } from './spec.ts'

/** A word for a bash or zsh script, single-quoted. */
export const q = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/** A `case` pattern list, each alternative quoted. */
export const patterns = (words: string[]) => words.map(q).join('|')

/** How the scripts name a command: its words (`store copy`), '' for qwenauth itself. */
export const keyOf = (spec: CommandSpec) => spec.path.join(' ')

/** `command flag` for every flag that takes a value: the walk skips the word after it. */
export function valueFlagKeys(specs: CommandSpec[]): string[] {
  return specs.flatMap((s) => s.flags.filter((f) => f.value !== undefined).flatMap((f) => f.names.map((n) => `${keyOf(s)} ${n}`)))
}

/** `_qwenauth_takes_value <command> <flag>`, in the syntax bash and zsh share. */
export function takesValueFunction(specs: CommandSpec[]): string {
  return `_qwenauth_takes_value() {
  case "$1 $2" in
    ${patterns(valueFlagKeys(specs))}) return 0 ;;
  esac
  return 1
}`
}

/**
 * The `case` branches bash and zsh share (their `case` syntax is the same): what to offer after
 * a flag that takes a value (`"$cmd $flag"`), and for a command's positional words (`$cmd`),
 * each rendered by the shell's own `complete` for a value source.
 */
export function caseTables(specs: CommandSpec[], complete: (source: ValueSource) => string): { values: string; positionals: string; passThrough: string } {
  const values = specs.flatMap((s) =>
    s.flags.filter((f) => f.value !== undefined).map((f) => `      ${patterns(f.names.map((n) => `${keyOf(s)} ${n}`))}) ${complete(f.value!)} ;;`),
  )
  const positionals = specs
    .filter((s) => s.positional)
    .map((s) => `    ${q(keyOf(s))}) ${s.positional === 'subcommand' ? '' : '(( ${#args[@]} == 0 )) && '}${complete(s.positional!)} ;;`)
  return { values: values.join('\n'), positionals: positionals.join('\n'), passThrough: patterns(specs.filter((s) => s.passThrough).map(keyOf)) }
}
