#!/usr/bin/env node
/** switchyard <command>: the one entry point (package.json "bin"); serve when no command is named. */
import { Command } from 'commander'
import { runCli, settleCommandTree } from './cli/command.js'
import { driftCommand } from './cli/drift.js'
import { exportCommand } from './cli/export.js'
import { groundTruthCommand } from './cli/ground-truth.js'
import { activityCommand, modelsCommand, stageCommand, tokenCommand } from './cli/lifecycle-commands.js'
import { referenceCommand } from './cli/reference.js'
import { schemaCommand } from './cli/schema.js'
import { serveCommand } from './cli/serve.js'
import { simulateCommand } from './cli/simulate.js'
import { uploadCommand } from './cli/upload.js'
import { validateCommand } from './cli/validate.js'
import { flushLogs } from './log.js'
import { SERVER_INFO } from './version.js'

const program = new Command('switchyard')
  .description('a versioned model-serving gateway')
  .version(SERVER_INFO.version, '-V, --version', 'print the version')
  .enablePositionalOptions() // export --version V is export's own option, not the program's
  .addCommand(serveCommand())
  .addCommand(validateCommand())
  .addCommand(schemaCommand())
  .addCommand(exportCommand())
  .addCommand(uploadCommand())
  .addCommand(groundTruthCommand())
  .addCommand(simulateCommand())
  .addCommand(referenceCommand())
  .addCommand(driftCommand())
  .addCommand(modelsCommand())
  .addCommand(stageCommand())
  .addCommand(activityCommand())
  .addCommand(tokenCommand())
settleCommandTree(program)

/** No command, or options only: serve (commander's own default command would take a misspelt command for serve's argument). */
function withDefaultCommand(argv: string[]): string[] {
  const first = argv[0]
  const isProgramFlag = first === '-h' || first === '--help' || first === '-V' || first === '--version'
  return first === undefined || (first.startsWith('-') && !isProgramFlag) ? ['serve', ...argv] : argv
}

// a reader that stops early (switchyard export | head) is not an error
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err
  process.exit(0)
})

runCli(program, withDefaultCommand(process.argv.slice(2))).then(
  (code) => {
    process.exitCode = code
  },
  async (err: unknown) => {
    await flushLogs() // the log lines before the failure come first
    process.stderr.write(`switchyard: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  },
)
