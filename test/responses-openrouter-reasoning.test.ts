import { describe, expect, it } from 'vitest'
import { ResponseWriter } from '../src/proxy/protocols/responses/output.ts'
import { chatTools } from '../src/proxy/protocols/responses/tools.ts'
import { toAnthropicMessage } from '../src/proxy/protocols/anthropic/response.ts'

/**
 * OpenRouter (the `reasoning` switch qwenauth sends for `reasoning.effort`) answers its reasoning
 * in `reasoning`, not DashScope's `reasoning_content`. The Anthropic translation reads both
 * (response.ts `reasoningOf`); the Responses translation must too, or README's "a `reasoning`
 * item when the upstream reasoned" is false on every OpenRouter account.
 */
const shell = () => ({ id: `resp_${'a'.repeat(24)}`, createdAt: 0, model: 'qwen/qwen3-coder', request: {} })

describe('Responses translation of an OpenRouter answer that reasoned', () => {
  it('streams OpenRouter reasoning deltas as a reasoning item, as DashScope reasoning_content is', () => {
    const writer = new ResponseWriter(shell(), chatTools(undefined, undefined).names)
    let events = writer.chunk({ choices: [{ index: 0, delta: { role: 'assistant', reasoning: 'Let me think.' }, finish_reason: null }] })
    events += writer.chunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] })
    events += writer.finish()
    expect(events).toContain('response.reasoning_text.delta')
    const output = writer.snapshot().output as Array<Record<string, unknown>>
    expect(output.map((item) => item.type)).toEqual(['reasoning', 'message'])
  })

  it('keeps the reasoning of a whole (non-streamed) OpenRouter answer, as the Anthropic translation does', () => {
    const chat = { id: 'gen-1', model: 'qwen/qwen3-coder', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', reasoning: 'Let me think.' }, finish_reason: 'stop' }] }
    // The Anthropic side already reads it:
    expect((toAnthropicMessage(chat, []).content as Array<{ type: string }>)[0]?.type).toBe('thinking')
    const writer = new ResponseWriter(shell(), chatTools(undefined, undefined).names)
    writer.chunk(chat)
    writer.finish()
    const output = writer.snapshot().output as Array<Record<string, unknown>>
    expect(output.map((item) => item.type)).toEqual(['reasoning', 'message'])
  })
})
