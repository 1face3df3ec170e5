#!/usr/bin/env node
/** switchyard <command>: the one entry point (package.json "bin"). */
import { exportCommand } from './cli/export.js'
import { activityCommand, modelsCommand, stageCommand, tokenCommand } from './cli/lifecycle-commands.js'
import { schema } from './cli/schema.js'
import { simulateCommand } from './cli/simulate.js'
import { serve } from './cli/serve.js'
import { validate } from './cli/validate.js'

const COMMANDS: Record<string, (args: string[]) => Promise<number | void>> = {
  serve,
  validate,
  schema,
  export: exportCommand,
  simulate: simulateCommand,
  models: modelsCommand,
  stage: stageCommand,
  activity: activityCommand,
  token: tokenCommand,
}

const USAGE = `usage: switchyard <command> [options]

commands:
  serve      serve the model repository (default)
  validate   check routes.yaml against the model repository; exit 1 on problems
  schema     print the JSON Schema of routes.yaml
  export     write a model's inference log, with ground truth, as jsonl, csv or parquet
  simulate   replay sample rows against a running gateway, then post their true labels
  models     the versions of every model with their stage (a running gateway, SWITCHYARD_TOKEN)
  stage      request, approve, reject, cancel or list stage changes
  activity   the activity log
  token      token new --name N --role R: create an API token

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
