/**
 * What both translations read from a chat completions answer (a message, or a stream's delta),
 * where the providers behind it differ.
 */

/** The reasoning a chat answer carries: DashScope's `reasoning_content`, or OpenRouter's `reasoning`. */
export function reasoningOf(message: Record<string, unknown>): string {
  const value = message.reasoning_content ?? message.reasoning
  return typeof value === 'string' ? value : ''
}
