/**
 * switchyard validate [routes.yaml] [--models DIR]: the same parse and checks the server runs
 * on reload (Envoy's validate mode), against the model repository on disk. Prints every
 * problem with its line and exits 1 when there are any; for a CI step before a deploy.
 */
import { Command } from 'commander'
import { DEFAULTS } from '../config/options.js'
import { readRegularFile } from '../config/regular-file.js'
import { checkRoutesSource } from '../config/routes-check.js'
import { formatProblem, MAX_ROUTES_BYTES } from '../config/routes-load.js'
import { createLogger } from '../log.js'
import { scanModelRepository } from '../registry/scan.js'
import { exitWith } from './command.js'

export function validateCommand(): Command {
  return new Command('validate')
    .description('check routes.yaml against the model repository; exit 1 and one line per problem')
    .argument('[routes]', `the file to check (SWITCHYARD_ROUTES, default ${DEFAULTS.routesPath})`)
    .option('--models <dir>', `the model repository (SWITCHYARD_MODELS, default ${DEFAULTS.modelsDir})`)
    .action(exitWith(async (routes: string | undefined, values: { models?: string }) => validate(
      routes ?? process.env.SWITCHYARD_ROUTES ?? DEFAULTS.routesPath,
      values.models ?? process.env.SWITCHYARD_MODELS ?? DEFAULTS.modelsDir,
    )))
}

async function validate(path: string, modelsDir: string): Promise<number> {
  const read = await readRegularFile(path, MAX_ROUTES_BYTES)
  if (!read.ok) {
    process.stderr.write(`${path}: ${read.reason}\n`)
    return 1
  }
  const models = await scanModelRepository(modelsDir, createLogger('silent'))
  const byName = new Map(models.map((m) => [m.name, m.versions.map((v) => v.version)]))
  const checked = checkRoutesSource(read.text, { versionsOf: (m) => byName.get(m) })
  if (!checked.ok) {
    for (const p of checked.problems) process.stderr.write(formatProblem(p, path) + '\n')
    return 1
  }
  process.stdout.write(`${path}: valid (${Object.keys(checked.file.routes).length} routes, models from ${modelsDir})\n`)
  return 0
}
