import { BadInput, isRecord, text, type Json } from './json.ts'
import type { ToolNames } from './tools.ts'

/** Outputs of built-in tools a chat upstream never ran; history that carries them loses nothing it could use. */
const HOSTED_CALL_ITEMS = new Set([
  'web_search_call',
  'file_search_call',
  'code_interpreter_call',
  'computer_call',
  'computer_call_output',
  'image_generation_call',
  'local_shell_call',
  'local_shell_call_output',
  'shell_call',
  'shell_call_output',
  'mcp_call',
  'mcp_list_tools',
  'mcp_approval_request',
  'mcp_approval_response',
  'tool_search_call',
  'tool_search_output',
  'web_extractor_call',
])

export interface Messages {
  messages: Json[]
  /** What was left out, for the log. */
  dropped: string[]
}

/**
 * A Responses conversation (`instructions` and input items) as chat messages: `developer` and
 * `system` become system messages, function and freeform tool calls become an assistant
 * message's `tool_calls` (several per turn) and their outputs `tool` messages matched by
 * `call_id`. Reasoning items are dropped (a chat upstream reasons anew each turn). Images a tool
 * returned (Codex's `view_image`) cannot sit in a tool message, so they follow the turn's tool
 * messages in a user message. Throws BadInput for an item that cannot be sent.
 */
export function chatMessages(instructions: unknown, input: Json[], names: ToolNames): Messages {
  const messages: Json[] = []
  const dropped: string[] = []
  let toolImages: Json[] = []
  const flushImages = () => {
    if (toolImages.length === 0) return
    messages.push({ role: 'user', content: [{ type: 'text', text: 'The images the tool calls above returned:' }, ...toolImages] })
    toolImages = []
  }
  const pushSystem = (content: string) => {
    const last = messages[messages.length - 1]
    if (last?.role === 'system' && typeof last.content === 'string') last.content = `${last.content}\n\n${content}`
    else messages.push({ role: 'system', content })
  }
  if (typeof instructions === 'string' && instructions) pushSystem(instructions)

  for (const [i, item] of input.entries()) {
    const type = text(item.type) ?? (typeof item.role === 'string' ? 'message' : undefined)
    const where = `input[${i}]`
    if (type !== 'function_call_output' && type !== 'custom_tool_call_output') flushImages()
    switch (type) {
      case 'message': {
        const role = item.role === 'developer' || item.role === 'system' ? 'system' : item.role
        if (role !== 'system' && role !== 'user' && role !== 'assistant') throw new BadInput(`${where}.role must be user, assistant, system or developer`)
        const content = messageContent(item.content, role, where)
        if (role === 'system') pushSystem(typeof content === 'string' ? content : '')
        else messages.push({ role, content })
        break
      }
      case 'function_call':
      case 'custom_tool_call': {
        const callId = text(item.call_id)
        const name = text(item.name)
        if (!callId || !name) throw new BadInput(`${where} (${type}) needs call_id and name`)
        const args = type === 'custom_tool_call' ? JSON.stringify({ input: text(item.input) ?? '' }) : (text(item.arguments) ?? '{}')
        const call = { id: callId, type: 'function', function: { name: names.upstreamName(name, text(item.namespace)), arguments: args } }
        const last = messages[messages.length - 1]
        if (last?.role === 'assistant') (last.tool_calls as Json[] | undefined)?.push(call) ?? (last.tool_calls = [call])
        else messages.push({ role: 'assistant', content: null, tool_calls: [call] })
        break
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const callId = text(item.call_id)
        if (!callId) throw new BadInput(`${where} (${type}) needs call_id`)
        const output = toolOutput(item.output, `${where}.output`)
        toolImages.push(...output.images)
        messages.push({ role: 'tool', tool_call_id: callId, content: output.text })
        break
      }
      case 'reasoning':
      case 'item_reference':
        break
      case 'additional_tools':
      case 'configuration_update':
        throw new BadInput(`${where} is a "${type}" item of OpenAI's responses-lite mode, which qwenauth does not translate: use a Qwen model name (such as coder-model), not an OpenAI one`)
      default:
        if (type && HOSTED_CALL_ITEMS.has(type)) {
          dropped.push(type)
          break
        }
        throw new BadInput(`${where} has type "${String(type)}", which qwenauth cannot send to a Qwen model`)
    }
  }
  flushImages()
  return { messages, dropped }
}

/** Message content as chat wants it: text alone as one string (parts joined by a newline), text and images as parts. */
function messageContent(content: unknown, role: string, where: string): string | Json[] {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) throw new BadInput(`${where}.content must be a string or an array of parts`)
  const parts: Json[] = []
  for (const [j, part] of content.entries()) {
    if (!isRecord(part)) throw new BadInput(`${where}.content[${j}] must be an object`)
    const t = part.type
    if (t === 'input_text' || t === 'output_text' || t === 'text' || t === 'summary_text') parts.push({ type: 'text', text: text(part.text) ?? '' })
    else if (t === 'refusal') parts.push({ type: 'text', text: text(part.refusal) ?? '' })
    else if (t === 'input_image') {
      const url = text(part.image_url)
      if (!url) throw new BadInput(`${where}.content[${j}]: an input_image needs image_url (a URL or a data: URL); file_id needs OpenAI's Files API, which qwenauth does not have`)
      if (role !== 'user') throw new BadInput(`${where}.content[${j}]: images can only be sent in user messages`)
      parts.push({ type: 'image_url', image_url: { url, ...(typeof part.detail === 'string' && part.detail !== 'auto' ? { detail: part.detail } : {}) } })
    } else throw new BadInput(`${where}.content[${j}] has type "${String(t)}", which qwenauth cannot send to a Qwen model (text and images are translated)`)
  }
  if (parts.every((p) => p.type === 'text')) return parts.map((p) => p.text as string).join('\n')
  return parts
}

/**
 * A tool's output: a string, or parts (text and images). Files are refused as they are in a
 * message: dropped, they would tell the model the tool returned nothing.
 */
function toolOutput(output: unknown, where: string): { text: string; images: Json[] } {
  if (typeof output === 'string') return { text: output, images: [] }
  if (!Array.isArray(output)) return { text: output === undefined || output === null ? '' : JSON.stringify(output), images: [] }
  const texts: string[] = []
  const images: Json[] = []
  for (const [j, part] of output.entries()) {
    if (!isRecord(part)) continue
    if (typeof part.text === 'string') texts.push(part.text)
    else if (part.type === 'input_image') {
      const url = text(part.image_url)
      if (!url) throw new BadInput(`${where}[${j}]: an input_image needs image_url (a URL or a data: URL); file_id needs OpenAI's Files API, which qwenauth does not have`)
      images.push({ type: 'image_url', image_url: { url } })
    } else if (part.type === 'input_file') {
      throw new BadInput(`${where}[${j}] is an input_file, which qwenauth cannot send to a Qwen model (OpenAI's Files API): put the file's text in the output instead`)
    }
  }
  if (texts.length === 0 && images.length > 0) texts.push(`(${images.length === 1 ? 'an image, shown below' : `${images.length} images, shown below`})`)
  return { text: texts.join('\n'), images }
}
