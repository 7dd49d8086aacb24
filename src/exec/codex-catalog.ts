import { createHash } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { join } from 'pathe'
import { writeFileAtomic } from '../store/atomic-write.ts'

/**
 * The prompt Codex puts first in every request for a model from this catalog. Codex requires
 * one (`base_instructions`) for a model it does not know; this one tells a Qwen model what
 * Codex's tools are and how to use them, apply_patch's format above all.
 */
const BASE_INSTRUCTIONS = `You are a coding agent working in the user's workspace through Codex, a command-line tool. You and the user share the files and the terminal; finish the task they give you, then stop.

# How to work
- Look before you change: read the relevant files and run commands to learn how the project builds and tests.
- Make the smallest change that fully solves the task, in the style of the code around it. Do not fix unrelated things; mention them instead.
- After a change, run the project's own checks (tests, type checks, linters) when they exist, and fix what you broke.
- Do not undo changes you did not make. Never run destructive commands (deleting files you did not create, git reset --hard, force pushes) unless the user asked for exactly that.
- If the task is unclear or a step needs the user's decision, ask instead of guessing.

# Tools
- exec_command runs a shell command in the workspace and returns its output. Prefer fast, precise commands (rg to search, sed -n to read parts of files). Give a workdir instead of cd when you can.
- apply_patch edits files. Its input is a patch in this format, not JSON and not a unified diff:
*** Begin Patch
*** Add File: path/to/new.txt
+first line of the new file
*** Update File: path/to/existing.py
@@ def greet():
-    print("hi")
+    print("hello")
*** Delete File: path/to/old.txt
*** End Patch
  Each Update hunk starts with @@ and a line that locates it; lines start with a space (context), - (removed) or + (added). Keep three lines of context around each change. Paths are relative to the workspace.
- Use apply_patch for every edit of a file, not shell redirection or sed -i.

# Answering
- Be brief and concrete. When you have finished, say what you changed (files and why) and how you checked it, and anything left for the user.
- Refer to files by their paths; put commands and code in backticks or fenced blocks.`

/**
 * Codex's catalog entry for a Qwen model. Without one Codex warns at every start ("Model
 * metadata … not found") and offers no apply_patch tool; with this entry it offers apply_patch
 * in its freeform form (which the proxy translates), runs commands with exec_command, and sends
 * no reasoning effort (Qwen's coder models do not reason on request).
 */
export function codexCatalog(model: string): Record<string, unknown> {
  return {
    models: [
      {
        slug: model,
        display_name: `${model} (qwenauth)`,
        description: 'A Qwen model served through qwenauth',
        default_reasoning_level: null,
        supported_reasoning_levels: [],
        shell_type: 'unified_exec',
        visibility: 'list',
        supported_in_api: true,
        priority: 1,
        default_reasoning_summary: 'none',
        support_verbosity: false,
        default_verbosity: null,
        apply_patch_tool_type: 'freeform',
        truncation_policy: { mode: 'tokens', limit: 10_000 },
        context_window: 1_000_000,
        max_context_window: 1_000_000,
        effective_context_window_percent: 95,
        experimental_supported_tools: [],
        input_modalities: /vl|vision/i.test(model) ? ['text', 'image'] : ['text'],
        supports_search_tool: false,
        use_responses_lite: false,
        supports_reasoning_effort_updates: false,
        base_instructions: BASE_INSTRUCTIONS,
      },
    ],
  }
}

/**
 * Writes the catalog under `<qwenHome>/qwenauth/codex/`, named by its content: runs with the
 * same model share one file, nothing piles up, and nothing is left half-written. A file, not a
 * `model_catalog_url` the proxy serves: Codex would cache a fetched catalog in the user's
 * ~/.codex/models_cache.json, over the user's own.
 */
export async function writeCodexCatalog(qwenHome: string, model: string): Promise<string> {
  const text = `${JSON.stringify(codexCatalog(model), null, 2)}\n`
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16)
  const path = join(qwenHome, 'qwenauth', 'codex', `model-catalog-${hash}.json`)
  const current = await fsp.readFile(path, 'utf8').catch(() => undefined)
  if (current !== text) await writeFileAtomic(path, text)
  return path
}
