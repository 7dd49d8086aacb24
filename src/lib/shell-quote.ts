import { QwenauthError } from './errors.ts'

/** Output formats of `qwenauth env`: a shell to `eval`/`source`, or a file format. */
export const SHELL_FORMATS = ['bash', 'zsh', 'fish', 'powershell', 'dotenv', 'json'] as const
export type ShellFormat = (typeof SHELL_FORMATS)[number]

export function isShellFormat(name: string): name is ShellFormat {
  return (SHELL_FORMATS as readonly string[]).includes(name)
}

/** bash, zsh, sh, dash, ksh: inside single quotes nothing is special but the quote itself. */
export function quotePosix(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** fish: inside single quotes only `\\` and `\'` are escapes. */
export function quoteFish(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}

/**
 * PowerShell: a single-quoted string is verbatim; a quote is written twice. PowerShell also
 * takes the typographic single quotes (U+2018..U+201B) as quotes, so those are doubled too.
 */
export function quotePowerShell(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`
}

/**
 * dotenv files have no single escaping rule that every reader (dotenv, Node's --env-file,
 * docker compose) agrees on, so only values that need none are written: single quotes (read
 * verbatim) when the value has no single quote, else double quotes when it has nothing those
 * readers expand. Anything else is refused rather than written in a way one of them misreads.
 */
export function quoteDotenv(value: string, name = 'value'): string {
  if (!/[\r\n]/.test(value)) {
    if (!value.includes("'")) return `'${value}'`
    if (!/["\\$`]/.test(value)) return `"${value}"`
  }
  throw new QwenauthError(`${name} cannot be written safely in a dotenv file; use --shell json`)
}

/** One assignment per variable, in the given order, ready for eval/source or a file. */
export function formatEnv(vars: Record<string, string>, format: ShellFormat): string {
  if (format === 'json') return `${JSON.stringify(vars, null, 2)}\n`
  const lines = Object.entries(vars).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new QwenauthError(`invalid environment variable name: ${name}`)
    switch (format) {
      case 'bash':
      case 'zsh':
        return `export ${name}=${quotePosix(value)}`
      case 'fish':
        return `set -gx ${name} ${quoteFish(value)}`
      case 'powershell':
        return `$env:${name} = ${quotePowerShell(value)}`
      case 'dotenv':
        return `${name}=${quoteDotenv(value, name)}`
    }
  })
  return `${lines.join('\n')}\n`
}
