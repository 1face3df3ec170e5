#!/usr/bin/env node
/** switchyard <command>: the one entry point (package.json "bin"). */
import { serve } from './cli/serve.js'

const COMMANDS: Record<string, (args: string[]) => Promise<number | void>> = {
  serve,
}

const USAGE = `usage: switchyard <command> [options]

commands:
  serve      serve the model repository (default)

run 'switchyard <command> --help' for its options`

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const command = first === undefined || first.startsWith('-') ? 'serve' : first
  const run = COMMANDS[command]
  if (run === undefined) {
    process.stderr.write(`switchyard: unknown command '${command}'\n\n${USAGE}\n`)
    return 2
  }
  const args = command === first ? rest : argv
  return (await run(args)) ?? 0
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`switchyard: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  },
)
