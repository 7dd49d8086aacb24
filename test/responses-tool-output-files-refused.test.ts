import { describe, expect, it } from 'vitest'
import { BadInput } from '../src/proxy/protocols/responses/json.ts'
import { chatRequest } from '../src/proxy/protocols/responses/request.ts'

/**
 * README, the Responses API: "Refused with a 400 saying what to do instead: … `input_file` and
 * `file_id` images (OpenAI's Files API)". In a message they are; in a tool's output (a
 * `function_call_output` whose `output` is a list of parts, as the Responses API allows) they are
 * dropped without a word, and the model is told the tool returned nothing.
 */
const history = (output: unknown) => [
  { type: 'message', role: 'user', content: 'read the attachment' },
  { type: 'function_call', call_id: 'call_1', name: 'read', arguments: '{}' },
  { type: 'function_call_output', call_id: 'call_1', output },
]
const tools = { tools: [{ type: 'function', name: 'read', parameters: { type: 'object', properties: {} } }] }

describe('files in a tool output on translated accounts', () => {
  it.each([
    ['an input_file', [{ type: 'input_file', file_id: 'file-abc123' }]],
    ['a file_id image', [{ type: 'input_image', file_id: 'file-img456' }]],
  ])('%s is refused as it is in a message, not sent on as an empty tool result', (_what, output) => {
    expect(() => chatRequest(tools, history(output))).toThrow(BadInput)
  })
})
