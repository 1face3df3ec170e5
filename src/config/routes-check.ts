/**
 * routes.yaml, step 3 of the config pipeline: semantic checks against the models actually
 * loaded, one small named function per rule (Seldon validate.go). Each returns problems
 * with the YAML path; the caller adds line and column.
 */
import type { RouteConfig, RoutesFile } from './routes-schema.js'

/** What the checks need to know about the model repository. */
export interface ModelCatalog {
  /** The version ids of a model, or undefined when there is no such model. */
  versionsOf(model: string): readonly string[] | undefined
  /** A version's lifecycle stage, when the registry knows it. */
  stageOf?(model: string, version: string): string | undefined
}

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
