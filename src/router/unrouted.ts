/**
 * Which version answers the routed calls of a model that has no route in routes.yaml: its
 * newest ready version in Production, the one version people approved for live traffic.
 * Without one, no version was chosen, and the call is refused with what to configure
 * (MODEL_NOT_ROUTED) rather than sent to whatever is newest (issue #14: a half-saved
 * routes.yaml sent every request to a version that had only been a shadow).
 */
import { gatewayError } from '../errors.js'
import type { ServingModel, ServingVersion } from '../runtime/model-pool.js'

export type StageOf = (model: string, version: string) => string | undefined

export function unroutedVersion(model: ServingModel, stageOf: StageOf): ServingVersion {
  if (model.versions.size === 0) throw gatewayError('MODEL_SERVED_ELSEWHERE', model.name) // nothing to configure: a model judged here, served elsewhere
  let newestInProduction: ServingVersion | null = null
  for (const v of model.versions.values()) { // in natural order: the last one wins
    if (stageOf(model.name, v.version) !== 'Production') continue
    if (v.state === 'ready' || newestInProduction?.state !== 'ready') newestInProduction = v
  }
  if (newestInProduction === null) throw gatewayError('MODEL_NOT_ROUTED', model.name)
  return newestInProduction
}
