import { createHash } from 'node:crypto'
import { BadInput, isRecord, type Json } from './json.ts'

/** A tool as the client offered it: a function (maybe inside a namespace) or a freeform tool. */
export interface OfferedTool {
  kind: 'function' | 'custom'
  name: string
  namespace?: string
}

/**
 * Built-in tools that OpenAI runs on its side. A chat upstream cannot run them, and refusing the
 * request would end the session of a client that always offers one (Codex offers `web_search`),
 * so they are dropped and the model never sees them.
 */
const HOSTED_TOOLS = new Set([
  'web_search',
  'web_search_preview',
  'web_search_preview_2025_03_11',
  'file_search',
  'code_interpreter',
  'computer_use_preview',
  'image_generation',
  'mcp',
  'local_shell',
  'shell',
  'tool_search',
  'web_extractor',
])

/** Chat function names: OpenAI's rule, which the Qwen APIs follow. */
const NAME_LIMIT = 64

/**
 * The names tools go by upstream, both ways. Functions keep their names; a namespaced function
 * (`multi_agent_v1` → `close_agent`) becomes one flat name, `multi_agent_v1__close_agent`, and
 * its calls go back to the client with the namespace and name apart, as Codex requires.
 */
export class ToolNames {
  private readonly byUpstream = new Map<string, OfferedTool>()
  private readonly toUpstream = new Map<string, string>()

  add(tool: OfferedTool): string {
    const key = keyOf(tool.name, tool.namespace)
    const known = this.toUpstream.get(key)
    if (known) return known
    const base = flatName(tool.name, tool.namespace)
    let name = base
    for (let n = 2; this.byUpstream.has(name); n++) name = `${base.slice(0, NAME_LIMIT - 4)}_${n}`
    this.byUpstream.set(name, tool)
    this.toUpstream.set(key, name)
    return name
  }

  /** The upstream name of a tool a history item names (offered now or not). */
  upstreamName(name: string, namespace?: string): string {
    return this.toUpstream.get(keyOf(name, namespace)) ?? flatName(name, namespace)
  }

  /** What the client offered under this upstream name; a name the model made up is a plain function. */
  offered(upstreamName: string): OfferedTool {
    return this.byUpstream.get(upstreamName) ?? { kind: 'function', name: upstreamName }
  }
}

const keyOf = (name: string, namespace?: string) => `${namespace ?? ''}\u0000${name}`

function flatName(name: string, namespace?: string): string {
  const flat = (namespace ? `${namespace}__${name}` : name).replace(/[^A-Za-z0-9_-]/g, '_')
  if (flat.length <= NAME_LIMIT) return flat
  return `${flat.slice(0, NAME_LIMIT - 9)}_${createHash('sha256').update(flat).digest('hex').slice(0, 8)}`
}

export interface ChatTools {
  tools: Json[]
  toolChoice: unknown
  names: ToolNames
  /** What was left out, for the log. */
  dropped: string[]
}

/** The client's tools as chat functions, and its tool_choice in chat terms. */
export function chatTools(tools: unknown, toolChoice: unknown): ChatTools {
  const names = new ToolNames()
  const out: Json[] = []
  const dropped: string[] = []
  if (tools !== undefined && tools !== null && !Array.isArray(tools)) throw new BadInput('tools must be an array')
  for (const [i, tool] of ((tools as unknown[] | undefined) ?? []).entries()) {
    if (!isRecord(tool) || typeof tool.type !== 'string') throw new BadInput(`tools[${i}] must be an object with a type`)
    if (tool.type === 'function') {
      if (typeof tool.name !== 'string' || !tool.name) throw new BadInput(`tools[${i}].name must be a non-empty string`)
      out.push(functionTool(names.add({ kind: 'function', name: tool.name }), tool.description, tool.parameters))
    } else if (tool.type === 'custom') {
      if (typeof tool.name !== 'string' || !tool.name) throw new BadInput(`tools[${i}].name must be a non-empty string`)
      out.push(customTool(names.add({ kind: 'custom', name: tool.name }), tool))
    } else if (tool.type === 'namespace') {
      if (typeof tool.name !== 'string' || !Array.isArray(tool.tools)) throw new BadInput(`tools[${i}] (a namespace) needs a name and tools`)
      for (const member of tool.tools) {
        if (!isRecord(member) || typeof member.name !== 'string') continue
        const about = [typeof tool.description === 'string' ? tool.description : '', typeof member.description === 'string' ? member.description : ''].filter(Boolean).join(' ')
        if (member.type === 'custom') out.push(customTool(names.add({ kind: 'custom', name: member.name, namespace: tool.name }), member))
        else out.push(functionTool(names.add({ kind: 'function', name: member.name, namespace: tool.name }), about, member.parameters))
      }
    } else if (HOSTED_TOOLS.has(tool.type)) {
      dropped.push(tool.type)
    } else {
      throw new BadInput(`tools[${i}] has type "${tool.type}", which qwenauth cannot offer a Qwen model (function, custom and namespace tools are translated; built-in tools are left out)`)
    }
  }
  const choice = chatToolChoice(toolChoice, names, out, dropped)
  return { tools: choice.tools, toolChoice: choice.toolChoice, names, dropped }
}

function functionTool(name: string, description: unknown, parameters: unknown): Json {
  return {
    type: 'function',
    function: {
      name,
      ...(typeof description === 'string' && description ? { description } : {}),
      parameters: isRecord(parameters) ? parameters : { type: 'object', properties: {} },
    },
  }
}

/**
 * A freeform tool (Codex's `apply_patch`) as a function with one string parameter. The model
 * is told the input is plain text given whole, and the grammar it must follow, if any; its call
 * goes back to the client as a `custom_tool_call` with that text as `input`.
 */
function customTool(name: string, tool: Json): Json {
  const format = isRecord(tool.format) ? tool.format : undefined
  const grammar = format?.type === 'grammar' && typeof format.definition === 'string' ? format.definition : undefined
  const description = [
    typeof tool.description === 'string' ? tool.description : '',
    'Give the whole input as the one string parameter `input`, exactly as the text would be written (it is not JSON itself).',
    grammar ? `The input must match this ${typeof format?.syntax === 'string' ? format.syntax : ''} grammar:\n${grammar}` : '',
  ].filter(Boolean).join('\n\n')
  return functionTool(name, description, {
    type: 'object',
    properties: { input: { type: 'string', description: 'The whole input, as plain text' } },
    required: ['input'],
    additionalProperties: false,
  })
}

function chatToolChoice(choice: unknown, names: ToolNames, tools: Json[], dropped: string[]): { tools: Json[]; toolChoice: unknown } {
  if (choice === undefined || choice === null || choice === 'auto' || choice === 'none' || choice === 'required') return { tools, toolChoice: choice ?? undefined }
  if (!isRecord(choice)) return { tools, toolChoice: undefined }
  if ((choice.type === 'function' || choice.type === 'custom') && typeof choice.name === 'string') {
    const namespace = typeof choice.namespace === 'string' ? choice.namespace : undefined
    return { tools, toolChoice: { type: 'function', function: { name: names.upstreamName(choice.name, namespace) } } }
  }
  if (choice.type === 'allowed_tools' && Array.isArray(choice.tools)) {
    const allowed = new Set(choice.tools.filter(isRecord).map((t) => (typeof t.name === 'string' ? names.upstreamName(t.name, typeof t.namespace === 'string' ? t.namespace : undefined) : '')))
    const kept = tools.filter((t) => allowed.has(String((t.function as Json).name)))
    return { tools: kept, toolChoice: choice.mode === 'required' ? 'required' : 'auto' }
  }
  // A built-in tool the request names (`{"type": "web_search"}`) was dropped with it.
  dropped.push(`tool_choice ${String(choice.type)}`)
  return { tools, toolChoice: 'auto' }
}

/**
 * The text a freeform tool gets: the `input` string of the function's JSON arguments. A model
 * that answered otherwise (a lone other string field, or plain text) is taken at its word.
 */
export function customInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args)
    if (typeof parsed === 'string') return parsed
    if (isRecord(parsed)) {
      if (typeof parsed.input === 'string') return parsed.input
      const strings = Object.values(parsed).filter((v): v is string => typeof v === 'string')
      if (strings.length === 1) return strings[0] as string
    }
  } catch {}
  return args
}
