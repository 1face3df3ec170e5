/**
 * routes.yaml, step 3 of the config pipeline: semantic checks against the models actually
 * loaded, one small named function per rule (Seldon validate.go). Each returns problems
 * with the YAML path; the caller adds line and column.
 */
import { inFileOrder, parseRoutesSource } from './routes-load.js'
import type { ConfigProblem } from './routes-load.js'
import type { RouteConfig, RoutesFile } from './routes-schema.js'

/** What the checks need to know about the model repository. */
export interface ModelCatalog {
  /** The version ids of a model, or undefined when there is no such model. */
  versionsOf(model: string): readonly string[] | undefined
  /** A version's lifecycle stage, when the registry knows it. */
  stageOf?(model: string, version: string): string | undefined
}

/** A catalog as plain data, to check a file on another thread: versions by model, stages by model/version. */
export interface CatalogSnapshot {
  readonly versions: Readonly<Record<string, readonly string[]>>
  readonly stages: Readonly<Record<string, string>> | null
}

export function snapshotCatalog(catalog: ModelCatalog, models: readonly string[]): CatalogSnapshot {
  const versions: Record<string, readonly string[]> = {}
  const stages: Record<string, string> = {}
  for (const model of models) {
    const vs = catalog.versionsOf(model)
    if (vs === undefined) continue
    versions[model] = vs
    for (const v of vs) {
      const stage = catalog.stageOf?.(model, v)
      if (stage !== undefined) stages[`${model}/${v}`] = stage
    }
  }
  return { versions, stages: catalog.stageOf === undefined ? null : stages }
}

export function catalogFromSnapshot(snapshot: CatalogSnapshot): ModelCatalog {
  return {
    versionsOf: (m) => (Object.hasOwn(snapshot.versions, m) ? snapshot.versions[m] : undefined),
    stageOf: snapshot.stages === null ? undefined : (m, v) => snapshot.stages![`${m}/${v}`],
  }
}

export type CheckOutcome = { ok: true; file: RoutesFile } | { ok: false; problems: ConfigProblem[] }

/**
 * Steps 2 and 3 of the pipeline on one file's text: parse, schema, semantic checks against the
 * catalog, every problem with its line, in file order. The same for the server's start, its
 * reloads (on the config worker, routes-checker.ts) and `switchyard validate`.
 */
export function checkRoutesSource(source: string, catalog: ModelCatalog): CheckOutcome {
  const parsed = parseRoutesSource(source)
  if (!parsed.ok) return parsed
  const semantic = checkRoutes(parsed.parsed.file, catalog)
  if (semantic.length === 0) return { ok: true, file: parsed.parsed.file }
  // finding a line is a walk of the file: thousands of problems would take seconds, and nobody reads past the first ones
  const located = inFileOrder(semantic.slice(0, MAX_PROBLEMS).map((p) => ({ path: p.path.join('.'), ...parsed.parsed.locate(p.path), message: p.message })))
  const rest = semantic.length - located.length
  return { ok: false, problems: rest === 0 ? located : [...located, { path: '', line: null, column: null, message: `and ${rest} more problems like these` }] }
}

/** Problems reported for one file; the rest are counted. */
export const MAX_PROBLEMS = 100

export interface SemanticProblem {
  readonly path: (string | number)[]
  readonly message: string
}

type Rule = (model: string, route: RouteConfig, versions: readonly string[]) => SemanticProblem[]

export function checkRoutes(file: RoutesFile, catalog: ModelCatalog): SemanticProblem[] {
  const problems: SemanticProblem[] = []
  for (const [model, route] of Object.entries(file.routes)) {
    const versions = catalog.versionsOf(model)
    if (versions === undefined) {
      problems.push({ path: ['routes', model], message: `no model '${model}' in the model repository` })
      continue
    }
    for (const rule of RULES) problems.push(...rule(model, route, versions))
    problems.push(...noLiveTrafficToArchived(model, route, catalog))
  }
  return problems
}

/** An Archived version may be a shadow or a challenger, never answer clients. */
function noLiveTrafficToArchived(model: string, route: RouteConfig, catalog: ModelCatalog): SemanticProblem[] {
  if (catalog.stageOf === undefined) return []
  const live: [string, (string | number)[]][] = [
    ...Object.entries(route.split ?? {}).filter(([, w]) => w > 0).map(([v]) => [v, ['split', v]] as [string, (string | number)[]]),
    ...(route.champion !== undefined ? [[route.champion, ['champion']] as [string, (string | number)[]]] : []),
    ...(route.canary ? [[route.canary.baseline, ['canary', 'baseline']], [route.canary.candidate, ['canary', 'candidate']]] as [string, (string | number)[]][] : []),
    ...(route.match ?? []).map((m, i) => [m.to, ['match', i, 'to']] as [string, (string | number)[]]),
    ...Object.entries(route.labels ?? {}).map(([label, v]) => [v, ['labels', label]] as [string, (string | number)[]]),
  ]
  return live
    .filter(([version]) => catalog.stageOf!(model, version) === 'Archived')
    .map(([version, path]) => ({ path: at(model, ...path), message: `version '${version}' is Archived; an archived version may only be a shadow or a challenger, not answer live traffic` }))
}

const at = (model: string, ...rest: (string | number)[]) => ['routes', model, ...rest]

const exactlyOnePrimaryStrategy: Rule = (model, route) => {
  const chosen = (['split', 'champion', 'canary'] as const).filter((k) => route[k] !== undefined)
  if (chosen.length === 1) return []
  if (chosen.length === 0) return [{ path: at(model), message: "a route needs one of 'split', 'champion' or 'canary' to say which version answers" }]
  return [{ path: at(model, chosen[1]), message: `'${chosen.join("' and '")}' both say which version answers; keep one` }]
}

const versionsExist: Rule = (model, route, versions) => {
  const problems: SemanticProblem[] = []
  const known = (v: string, path: (string | number)[]) => {
    if (!versions.includes(v)) problems.push({ path, message: `model '${model}' has no version '${v}' (versions: ${versions.join(', ') || 'none'})` })
  }
  for (const v of Object.keys(route.split ?? {})) known(v, at(model, 'split', v))
  for (const v of Object.keys(route.shadow ?? {})) known(v, at(model, 'shadow', v))
  for (const v of Object.keys(route.challengers ?? {})) known(v, at(model, 'challengers', v))
  for (const [label, v] of Object.entries(route.labels ?? {})) known(v, at(model, 'labels', label))
  route.match?.forEach((rule, i) => known(rule.to, at(model, 'match', i, 'to')))
  if (route.champion !== undefined) known(route.champion, at(model, 'champion'))
  if (route.canary !== undefined) {
    known(route.canary.baseline, at(model, 'canary', 'baseline'))
    known(route.canary.candidate, at(model, 'canary', 'candidate'))
  }
  return problems
}

const splitSumsTo100: Rule = (model, route) => {
  if (route.split === undefined) return []
  const sum = Object.values(route.split).reduce((a, b) => a + b, 0)
  return sum === 100 ? [] : [{ path: at(model, 'split'), message: `weights sum to ${sum}, not 100` }]
}

const shadowIsNotPrimary: Rule = (model, route) => {
  const primaries = new Set([...Object.keys(route.split ?? {}), route.champion, route.canary?.baseline, route.canary?.candidate].filter((v) => v !== undefined))
  return Object.keys(route.shadow ?? {}).filter((v) => primaries.has(v)).map((v) => ({
    path: at(model, 'shadow', v),
    message: `'${v}' already answers on this route; a version cannot also shadow it`,
  }))
}

const challengersNeedAChampion: Rule = (model, route) => {
  if (route.challengers === undefined) return []
  if (route.champion === undefined) return [{ path: at(model, 'challengers'), message: "challengers need a 'champion' that answers" }]
  return route.challengers[route.champion] === undefined ? [] : [{ path: at(model, 'challengers', route.champion), message: `'${route.champion}' is the champion; it cannot also be a challenger` }]
}

const canaryIsSound: Rule = (model, route) => {
  const c = route.canary
  if (c === undefined) return []
  const problems: SemanticProblem[] = []
  if (c.baseline === c.candidate) problems.push({ path: at(model, 'canary', 'candidate'), message: 'the candidate must differ from the baseline' })
  for (let i = 1; i < c.steps.length; i++) {
    if (c.steps[i] <= c.steps[i - 1]) problems.push({ path: at(model, 'canary', 'steps', i), message: `steps must rise: ${c.steps[i]} follows ${c.steps[i - 1]}` })
  }
  return problems
}

const RULES: readonly Rule[] = [exactlyOnePrimaryStrategy, versionsExist, splitSumsTo100, shadowIsNotPrimary, challengersNeedAChampion, canaryIsSound]
