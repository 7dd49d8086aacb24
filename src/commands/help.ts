import { defineCommand } from 'citty'
import { withExtras } from './_extras.ts'
import { resolveCommand } from './_tree.ts'
import { renderHelp } from './_usage.ts'

/** `qwenauth help store copy` is `qwenauth store copy --help`. */
export default withExtras(
  defineCommand({
    meta: { name: 'help', description: 'Show the help of qwenauth or of a command (qwenauth help store copy)' },
    args: { command: { type: 'positional', required: false, description: 'The command, with its sub-command if it has one' } },
    async run({ args }) {
      process.stdout.write(await renderHelp(await resolveCommand(args._.map(String))))
    },
  }),
  { variadic: true, usage: 'qwenauth help [COMMAND...]', ignoresStorage: 'it reads no store' },
)
