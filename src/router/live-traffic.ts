/**
 * The versions that answer clients now, and how: what a stage change to Archived must not
 * touch. Routes send live traffic to their split, champion, canary, match and label versions;
 * a model without a route sends it to its newest Production version (unrouted.ts). Shadows
 * and challengers answer nobody and are not live.
 */
import type { ModelPool } from '../runtime/model-pool.js'
import type { RouteTable } from './route-table.js'
import { unroutedVersion } from './unrouted.js'
import type { StageOf } from './unrouted.js'

/** model/version → how it takes live traffic, e.g. "in routes.yaml (route 'credit-risk')". */
export function liveTraffic(table: RouteTable, pool: ModelPool, stageOf: StageOf): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [model, route] of table.routes) for (const v of route.liveVersions()) out[`${model}/${v}`] = `in routes.yaml (route '${model}')`
  for (const model of pool.models()) {
    if (table.routes.has(model.name)) continue
    try {
      const v = unroutedVersion(model, stageOf)
      out[`${model.name}/${v.version}`] = `as the newest Production version of '${model.name}', which has no route in routes.yaml`
    } catch {
      // no Production version: this model's routed calls are refused, nothing is live
    }
  }
  return out
}
