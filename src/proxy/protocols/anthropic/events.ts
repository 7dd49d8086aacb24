/** One Anthropic server-sent event: the `event:` line names the type that `data` repeats. */
export function sseEvent(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
}
