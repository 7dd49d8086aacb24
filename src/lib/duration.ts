import { ExitCode, QwenauthError } from './errors.ts'

/** Durations as people read them (`5:07`, `5h59m`, `2d03h`) and type them (`10m`, `90s`). */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000))
  if (total >= 86_400) return `${Math.floor(total / 86_400)}d${String(Math.floor((total % 86_400) / 3600)).padStart(2, '0')}h`
  if (total >= 3600) return `${Math.floor(total / 3600)}h${String(Math.floor((total % 3600) / 60)).padStart(2, '0')}m`
  const minutes = Math.floor(total / 60)
  const seconds = total % 60
  return `${minutes}:${String(seconds).padStart(2, '0')}`
}

/** `10m`, `90s`, `1h`, `500ms`, or a bare number of minutes. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim())
  if (!match) throw new QwenauthError(`${flag} takes a duration such as 10m, 90s or 1h, not "${text}"`, ExitCode.usage)
  const unit = match[2] ?? 'm'
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit] ?? 60_000
  return Math.round(Number(match[1]) * factor)
}

/** A duration as a flag takes it (`10m`, `30s`), the inverse of parseDuration. */
export function durationFlag(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0) return `${ms / 60_000}m`
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
