/**
 * switchyard validate [routes.yaml] [--models DIR] [--store S]: the exact path the server takes
 * at start (Envoy's validate mode): read the file, parse and check it against the model
 * repository on disk and the stages in the store, and compile it. Prints every problem with
 * its line and exits 1 when there are any; for a CI step before a deploy.
 */
import { existsSync } from 'node:fs'
import { Command } from 'commander'
import { DEFAULTS } from '../config/options.js'
import { formatProblem } from '../config/routes-load.js'
import type { ConfigProblem } from '../config/routes-load.js'
import { RoutesChecker } from '../config/routes-checker.js'
import { listStages } from '../lifecycle/operations.js'
import { createLogger } from '../log.js'
import { scanModelRepository } from '../registry/scan.js'
import { RoutesHolder } from '../router/routes-holder.js'
import { openStore } from '../store/open-store.js'
import { describeStoreSpec, parseStoreSpec } from '../store/store-spec.js'
import type { StoreSpec } from '../store/store-spec.js'
import { exitWith, reader } from './command.js'

export function validateCommand(): Command {
  return new Command('validate')
    .description('check routes.yaml as the server does at start: against the model repository and the stages in the store; exit 1 and one line per problem')
    .argument('[routes]', `the file to check (SWITCHYARD_ROUTES, default ${DEFAULTS.routesPath})`)
    .option('--models <dir>', `the model repository (SWITCHYARD_MODELS, default ${DEFAULTS.modelsDir})`)
    .option('--store <spec>', `where the stages are (SWITCHYARD_STORE, default ${DEFAULTS.store}); none checks without stages`, reader(parseStoreSpec))
    .action(exitWith(async (routes: string | undefined, values: { models?: string; store?: StoreSpec }) => validate(
      routes ?? process.env.SWITCHYARD_ROUTES ?? DEFAULTS.routesPath,
      values.models ?? process.env.SWITCHYARD_MODELS ?? DEFAULTS.modelsDir,
      values.store ?? parseStoreSpec(process.env.SWITCHYARD_STORE ?? DEFAULTS.store),
    )))
}

async function validate(path: string, modelsDir: string, store: StoreSpec): Promise<number> {
  const models = await scanModelRepository(modelsDir, createLogger('silent'))
  const byName = new Map(models.map((m) => [m.name, m.versions.map((v) => v.version)]))
  const stages = await stagesIn(store)
  const checker = new RoutesChecker()
  try {
    const holder = await RoutesHolder.open(path, {
      modelNames: () => [...byName.keys()],
      versionsOf: (m) => byName.get(m),
      stageOf: stages === null ? undefined : (m, v) => stages.get(`${m}/${v}`) ?? 'Unassigned',
    }, checker)
    process.stdout.write(`${path}: valid (${holder.current.routes.size} routes, models from ${modelsDir}, ${stages === null ? 'stages not checked' : `stages from ${describeStoreSpec(store)}`})\n`)
    return 0
  } catch (err) {
    const problems = (err as { problems?: ConfigProblem[] }).problems
    if (problems === undefined) throw err
    for (const p of problems) process.stderr.write(formatProblem(p, path) + '\n')
    return 1
  } finally {
    await checker.close()
  }
}

/** The stages the gateway would check against at start; null (and a note) when the store has none to give. */
async function stagesIn(spec: StoreSpec): Promise<Map<string, string> | null> {
  if (spec.kind === 'none') return null
  if (spec.kind === 'sqlite' && !existsSync(spec.path)) return new Map() // no gateway has run here yet: every version is Unassigned
  try {
    const store = await openStore(spec, { readonly: true })
    try {
      return new Map((await store.run(listStages(), 'read')).map((s) => [`${s.model}/${s.version}`, s.stage]))
    } finally {
      await store.close()
    }
  } catch (err) {
    process.stderr.write(`note: stages not checked, the store ${describeStoreSpec(spec)} cannot be read (${(err as Error).message.split('\n')[0]})\n`)
    return null
  }
}
