/**
 * switchyard validate [routes.yaml] [--models DIR]: the same parse and checks the server runs
 * on reload (Envoy's validate mode), against the model repository on disk. Prints every
 * problem with its line and exits 1 when there are any; for a CI step before a deploy.
 */
import { readFile } from 'node:fs/promises'
import { Command } from 'commander'
import { DEFAULTS } from '../config/options.js'
import { checkRoutes } from '../config/routes-check.js'
import { formatProblem, inFileOrder, parseRoutesSource } from '../config/routes-load.js'
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
  let source: string
  try {
    source = await readFile(path, 'utf8')
  } catch (err) {
    process.stderr.write(`${path}: cannot read: ${(err as Error).message}\n`)
    return 1
  }
  const parsed = parseRoutesSource(source)
  if (!parsed.ok) {
    for (const p of parsed.problems) process.stderr.write(formatProblem(p, path) + '\n')
    return 1
  }
  const models = await scanModelRepository(modelsDir, createLogger('silent'))
  const byName = new Map(models.map((m) => [m.name, m.versions.map((v) => v.version)]))
  const problems = checkRoutes(parsed.parsed.file, { versionsOf: (m) => byName.get(m) })
  const located = inFileOrder(problems.map((p) => ({ path: p.path.join('.'), ...parsed.parsed.locate(p.path), message: p.message })))
  for (const p of located) process.stderr.write(formatProblem(p, path) + '\n')
  if (problems.length > 0) return 1
  process.stdout.write(`${path}: valid (${Object.keys(parsed.parsed.file.routes).length} routes, models from ${modelsDir})\n`)
  return 0
}
