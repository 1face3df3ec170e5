/**
 * Which version answers a request, and as what: every way a version is chosen, in one place.
 *
 *   direct   /v1/models/{m}/versions/{v}/predict, /v2/models/{m}/versions/{v}/infer
 *   label    /v1/models/{m}/labels/{label}/predict          a routes.yaml label
 *   routed   /predict, /v1/models/{m}/predict, /v2/models/{m}/infer
 *              route in routes.yaml: pin → match → canary | champion | split (route-table.ts)
 *              no route: the newest Production version (unrouted.ts)
 *
 * Routed and label choices are made on one read of the route table, so a request sees one
 * revision whatever reloads happen meanwhile. A pinned or matched version is never an
 * Archived one.
 */
import { gatewayError } from '../errors.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool, ServingModel, ServingVersion } from '../runtime/model-pool.js'
import { NO_FACTS } from './request-facts.js'
import type { RoutingInput } from './request-facts.js'
import type { CompiledRoute, Decision } from './route-table.js'
import type { RoutesHolder } from './routes-holder.js'
import { unroutedVersion } from './unrouted.js'
import type { StageOf } from './unrouted.js'

export type Target =
  | { kind: 'direct'; model: string; version: string }
  | { kind: 'label'; model: string; label: string }
  /** `model` null: the body names it (POST /predict). */
  | { kind: 'routed'; model: string | null }

/** The role a version plays for this request: routed traffic is primary, a chosen version direct. */
export type AnswerRole = 'primary' | 'direct'

export interface Chosen {
  readonly version: ServingVersion
  readonly role: AnswerRole
  /** The route for metrics and the log: the routes.yaml route, `label:<label>`, or null for a direct call. */
  readonly routeName: string | null
  readonly route: CompiledRoute | null
  readonly decision: Decision | null
  /** The routes.yaml revision that chose the version; null for a direct call. */
  readonly revision: number | null
}

export interface VersionChoice {
  /** A direct target's version, ready to run: found before the body is read (404 or 503 without reading it); null for the others. */
  direct(target: Target): ServingVersion | null
  /** The version that answers; the request is read only for /predict (its body names the model) or a route that reads it. */
  choose(routing: RoutingInput, target: Target, direct: ServingVersion | null): Chosen
}

export function versionChoice(pool: ModelPool, routes: RoutesHolder, stageOf: StageOf): VersionChoice {
  function namedModel(routing: RoutingInput): ServingModel {
    const named = routing.namedModel()
    if (typeof named === 'string') return pool.getModel(named)
    const names = pool.modelNames()
    if (names.length === 1) return pool.getModel(names[0])
    throw gatewayError('MODEL_NOT_NAMED', names)
  }

  return {
    direct: (target) => (target.kind === 'direct' ? pool.getReadyVersion(target.model, target.version) : null),

    choose(routing, target, direct) {
      if (direct !== null) return { version: direct, role: 'direct', routeName: null, route: null, decision: null, revision: null }
      const model = target.model === null ? namedModel(routing) : pool.getModel(target.model)
      const table = routes.current // one read: the whole request sees one revision
      const revision = table.revision.number
      const route = table.routes.get(model.name) ?? null
      if (target.kind === 'label') {
        const version = route?.labels.get(target.label)
        if (version === undefined) throw gatewayError('LABEL_NOT_FOUND', model.name, target.label, route === null ? [] : [...route.labels.keys()])
        return { version: pool.getReadyVersion(model.name, version), role: 'direct', routeName: `label:${target.label}`, route: null, decision: null, revision }
      }
      if (route === null) {
        const version = assertReady(unroutedVersion(model, stageOf))
        return { version, role: 'primary', routeName: model.name, route: null, decision: { version: version.version, reason: 'default', bucket: null }, revision }
      }
      const decision = route.decide(route.readsRequest ? routing.facts() : NO_FACTS)
      if ('pinned' in decision) {
        const pinned = model.versions.get(decision.pinned)
        if (pinned === undefined) throw gatewayError('PINNED_VERSION_NOT_FOUND', model.name, decision.pinned, model.versionNames())
        if (stageOf(model.name, pinned.version) === 'Archived') throw gatewayError('VERSION_ARCHIVED', model.name, pinned.version)
        return { version: assertReady(pinned), role: 'primary', routeName: model.name, route, decision: { version: pinned.version, reason: 'pin', bucket: null }, revision }
      }
      return { version: pool.getReadyVersion(model.name, decision.version), role: 'primary', routeName: model.name, route, decision, revision }
    },
  }
}
