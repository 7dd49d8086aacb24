/**
 * Claude Code started by the other common package runners is still Claude Code: without the
 * --settings exec gives it, the env block of the user's settings.json (ANTHROPIC_BASE_URL and
 * ANTHROPIC_AUTH_TOKEN, as the Coding Plan guide has users write) sends every request past
 * qwenauth (see exec-claude-user-settings.test.ts). Only npx, pnpx and bunx are recognised.
 */
import { expect, it } from 'vitest'
import { claudeArgsStart } from '../src/exec/claude.ts'

it.each([
  ['npm', ['exec', '@anthropic-ai/claude-code', '--', '-p', 'hi']],
  ['npm', ['exec', '--yes', '--package=@anthropic-ai/claude-code', '--', 'claude', '-p', 'hi']],
  ['pnpm', ['dlx', '@anthropic-ai/claude-code', '-p', 'hi']],
  ['yarn', ['dlx', '@anthropic-ai/claude-code', '-p', 'hi']],
  ['pnpm', ['exec', 'claude', '-p', 'hi']],
] as const)('%s %j is recognised as Claude Code', (command, args) => {
  expect(claudeArgsStart(command, args)).toBeTypeOf('number')
})
