import { usageError } from './errors.ts'
import { decimal } from './decimal.ts'

/**
 * A number setting from the environment (milliseconds, bytes, a count): unset or empty is
 * undefined; anything but decimal digits is a usage error naming it, read where the command
 * starts, so a setting that does not parse is never silently the default.
 */
export function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name]
  if (text === undefined || text === '') return undefined
  const value = decimal(text.trim())
  if (value === undefined) throw usageError(`${name}=${text} is not a whole number (digits only, e.g. ${name}=30000)`)
  return value
}
