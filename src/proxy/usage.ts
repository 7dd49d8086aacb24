export interface Usage {
  promptTokens: number
  completionTokens: number
}

/**
 * The token counts of the last `usage` object in a JSON answer or a run of SSE events. A regex
 * over the text after the last `"usage"` instead of a full parse: answers can be megabytes,
 * and `"usage"` inside generated text is escaped (`\"usage\"`), so it cannot match.
 */
export function findUsage(text: string): Usage | undefined {
  const at = text.lastIndexOf('"usage"')
  if (at === -1) return undefined
  const rest = text.slice(at, at + 1000)
  if (/^"usage"\s*:\s*null/.test(rest)) return undefined
  const prompt = /"prompt_tokens"\s*:\s*(\d+)/.exec(rest)
  const completion = /"completion_tokens"\s*:\s*(\d+)/.exec(rest)
  if (!prompt && !completion) return undefined
  return { promptTokens: Number(prompt?.[1] ?? 0), completionTokens: Number(completion?.[1] ?? 0) }
}
