/**
 * What the gateway itself writes to the activity log, as user actions are: routes.yaml applied
 * or rejected, canary steps and rollbacks, versions loaded, failed or removed. All under the
 * actor 'system'.
 */
import type { CanaryEvent } from '../router/canary.js'
import type { ReloadOutcome } from '../router/routes-holder.js'
import type { Revision } from '../router/route-table.js'
import type { ServingVersion } from '../runtime/model-pool.js'
import type { Lifecycle } from './lifecycle.js'

export interface GatewayActivity {
  routesApplied(revision: Revision, trigger: string): void
  routesOutcome(outcome: ReloadOutcome, trigger: string): void
  canaryEvent(model: string, event: CanaryEvent): void
  versionLoaded(version: ServingVersion): void
  /** `keys` as model/version. */
  versionsRemoved(keys: readonly string[]): void
}

export function gatewayActivity(lifecycle: Lifecycle): GatewayActivity {
  const record = (kind: string, fields: { model?: string; version?: string; detail?: unknown }) => lifecycle.record({ actor: 'system', kind, ...fields })
  const applied = (revision: Revision, trigger: string) => record('routes-applied', { detail: { revision: revision.number, sha256: revision.sha256, trigger } })
  return {
    routesApplied: applied,
    routesOutcome(outcome, trigger) {
      if (outcome.kind === 'applied') applied(outcome.revision, trigger)
      if (outcome.kind === 'rejected') record('routes-rejected', { detail: { trigger, problems: outcome.rejection.problems } })
    },
    canaryEvent: (model, e) => record(`canary-${e.kind}`, { model, detail: { percent: e.percent, detail: e.detail } }),
    versionLoaded: (v) => record(v.state === 'ready' ? 'version-loaded' : 'version-failed', { model: v.model, version: v.version, detail: v.reason ? { reason: v.reason } : null }),
    versionsRemoved(keys) {
      for (const key of keys) {
        const [model, version] = key.split('/')
        record('version-removed', { model, version })
      }
    },
  }
}
