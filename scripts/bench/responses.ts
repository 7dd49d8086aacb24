/**
 * The Responses path of the serve bench: the same question asked through `qwenauth serve` as a
 * chat completion (passed through) and as a Responses request (translated to chat completions
 * and back), so the table shows what the translation adds.
 */
import type { RunFigures } from './load.ts'

export interface ResponsesRun {
  scenario: string
  chat: RunFigures
  responses: RunFigures
}

export function responsesInit(stream: boolean): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'coder-model', input: 'Say hello.', stream, store: false }),
  }
}

const ms = (n: number) => `${n.toFixed(2)} ms`
const added = (a: number, b: number) => `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(2)} ms`

export function formatResponses(runs: ResponsesRun[]): string {
  const lines = [
    '### Responses API vs chat completions, both through serve',
    '',
    'The same question as a chat completion (passed through) and as a Responses request (translated both ways); each the better of two runs taken in turn.',
    '',
    '| scenario | metric | chat (passthrough) | responses (translated) | added |',
    '| --- | --- | ---: | ---: | ---: |',
  ]
  for (const { scenario, chat, responses } of runs) {
    lines.push(`| ${scenario} | requests/s (${chat.requests} / ${responses.requests} requests) | ${chat.rps.toFixed(0)} | ${responses.rps.toFixed(0)} | |`)
    lines.push(`| ${scenario} | latency p50 | ${ms(chat.p50)} | ${ms(responses.p50)} | ${added(responses.p50, chat.p50)} |`)
    if (scenario.includes('stream')) lines.push(`| ${scenario} | time to first byte p50 | ${ms(chat.ttfbP50)} | ${ms(responses.ttfbP50)} | ${added(responses.ttfbP50, chat.ttfbP50)} |`)
  }
  return `${lines.join('\n')}\n`
}
