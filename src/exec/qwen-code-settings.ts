import { createHash } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { dirname, join } from 'pathe'
import { errnoCode } from '../lib/errors.ts'
import { logger } from '../lib/logger.ts'
import { writeFileAtomic } from '../store/atomic-write.ts'

/**
 * Makes the official CLI (`qwen`, @qwen-code/qwen-code 0.24.x) use the credentials qwenauth hands
 * over, whatever its settings files say.
 *
 * qwen takes its auth type from `--auth-type`, else `security.auth.selectedType` in its settings,
 * and only then from OPENAI_* in the environment; a saved `qwen-oauth` therefore wins and is
 * refused (docs/qwen-protocol.md §7). Likewise a saved `model.name` wins over OPENAI_MODEL, and a
 * `modelProviders` entry for that model wins over OPENAI_BASE_URL. Adding `--auth-type openai`
 * to the child's arguments would fix only the first, only when the child is `qwen` itself, and
 * it breaks qwen's sub-commands (`qwen mcp list --auth-type openai` is "Unknown arguments").
 *
 * Instead the child gets QWEN_CODE_SYSTEM_SETTINGS_PATH (documented by qwen-code): the system
 * settings layer, which overrides user and project settings. It points at a copy of the real
 * system settings (if any) with those three keys set, so it also reaches `qwen` started by a
 * script, `npx`, or as `qwen serve`. qwen's own flags (`--auth-type`, `-m`) still win.
 */
export const QWEN_SETTINGS_ENV = 'QWEN_CODE_SYSTEM_SETTINGS_PATH'
export const QWEN_DEFAULTS_ENV = 'QWEN_CODE_SYSTEM_DEFAULTS_PATH'
/** The settings format version of qwen-code 0.24.x; without one it rewrites the file on load. */
const SETTINGS_VERSION = 4

/** Where qwen-code looks for system settings when the variable is unset (its getSystemSettingsPath). */
export function defaultSystemSettingsPath(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return '/Library/Application Support/QwenCode/settings.json'
  if (platform === 'win32') return 'C:\\ProgramData\\qwen-code\\settings.json'
  return '/etc/qwen-code/settings.json'
}

/** The settings that route qwen through the credentials in OPENAI_*. */
export function qwenOverrides(model: string): Record<string, unknown> {
  return {
    security: { auth: { selectedType: 'openai' } },
    model: { name: model },
    // qwen 0.24 merges settings objects key by key and does not apply the "replace" strategy its
    // schema declares for modelProviders, so `{}` would hide nothing (qwen says as much in its own
    // warning). A value that is not an object replaces: this empty list hides every provider of
    // the user and project settings, whose entry for `model` would otherwise win over OPENAI_*.
    modelProviders: [],
  }
}

/**
 * Writes the override file under `<qwenHome>/qwenauth/qwen-code/` (named by its content, so
 * concurrent runs with the same settings share one file and nothing piles up) and returns the
 * variables that point qwen at it. Returns no variables, with a warning, when the existing
 * system settings cannot be read: replacing an administrator's settings would be worse.
 */
export async function qwenSettingsEnv(qwenHome: string, model: string, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const basePath = env[QWEN_SETTINGS_ENV] || defaultSystemSettingsPath()
  let base: Record<string, unknown>
  try {
    base = await readJsonc(basePath)
  } catch (error) {
    logger.warn(`could not read qwen-code system settings ${basePath} (${(error as Error).message}); \`qwen\` may ignore OPENAI_* unless run with --auth-type openai`)
    return {}
  }
  const merged = deepMerge({ $version: SETTINGS_VERSION, ...base }, qwenOverrides(model))
  const text = `${JSON.stringify(merged, null, 2)}\n`
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16)
  const path = join(qwenHome, 'qwenauth', 'qwen-code', `system-settings-${hash}.json`)
  const current = await fsp.readFile(path, 'utf8').catch(() => undefined)
  try {
    if (current !== text) await writeFileAtomic(path, text)
  } catch (error) {
    logger.warn(`could not write ${path} (${(error as Error).message}); \`qwen\` may ignore OPENAI_* unless run with --auth-type openai`)
    return {}
  }
  return {
    [QWEN_SETTINGS_ENV]: path,
    // qwen looks for system defaults next to the system settings unless told otherwise.
    [QWEN_DEFAULTS_ENV]: env[QWEN_DEFAULTS_ENV] || join(dirname(basePath), 'system-defaults.json'),
  }
}

/** A missing file is no settings; anything but a JSON object (comments allowed) is an error. */
async function readJsonc(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await fsp.readFile(path, 'utf8')
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return {}
    throw error
  }
  const value: unknown = JSON.parse(stripJsonComments(text.replace(/^\uFEFF/, '')))
  if (!isPlainObject(value)) throw new Error('not a JSON object')
  return value
}

/** Removes `//` and `/* *\/` comments outside strings, as qwen's settings loader accepts them. */
export function stripJsonComments(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      const start = i
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++
      out += text.slice(start, i + 1)
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++
      out += '\n'
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end === -1 ? text.length : end + 1
      out += ' '
    } else {
      out += c
    }
  }
  return out
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const current = out[key]
    const replace = key === 'modelProviders' || !isPlainObject(value) || !isPlainObject(current)
    out[key] = replace ? value : deepMerge(current, value)
  }
  return out
}
