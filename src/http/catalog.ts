/**
 * The catalog's JSON views of models and versions (GET /v1/models, GET /v1/models/{model}).
 * A version is `served: "here"` (a folder of the model repository) or `"elsewhere"`: it has
 * inferences sent in (POST /v1/models/{model}/inferences) and no folder here.
 */
import type { StageCache } from '../lifecycle/stage-cache.js'
import { compareVersionNames } from '../registry/names.js'
import type { ServingModel, ServingVersion } from '../runtime/model-pool.js'
import { runsInline } from '../mirrors/mirrors.js'
import { modelVersionStatus } from '../protocols/tf-serving-metadata.js'
import { describeSpec } from '../protocols/v2-tensors.js'

/** `sentIn`: the model's versions with inferences sent in (inference-log/sent-in-versions.ts). */
export function describeModelSummary(model: ServingModel, stages: StageCache, sentIn: readonly string[]) {
  const versions = [...model.versions.values()]
  return {
    name: model.name,
    task: model.metadata?.task ?? null,
    description: model.metadata?.description ?? null,
    owner: model.metadata?.owner ?? null,
    versions: [
      ...versions.map((v) => ({ version: v.version, served: 'here', state: v.state, label: v.metadata?.label ?? null, stage: stages.stageOf(model.name, v.version) ?? 'Unassigned' })),
      ...servedElsewhere(model, sentIn).map((version) => ({ version, served: 'elsewhere', state: null, label: null, stage: stages.stageOf(model.name, version) ?? 'Unassigned' })),
    ],
  }
}

export function describeModel(model: ServingModel, stages: StageCache, sentIn: readonly string[]) {
  return {
    name: model.name,
    task: model.metadata?.task ?? null,
    description: model.metadata?.description ?? null,
    owner: model.metadata?.owner ?? null,
    data: model.metadata?.data ?? null,
    versions: [
      ...[...model.versions.values()].map((v) => describeVersionWithStage(v, stages)),
      ...servedElsewhere(model, sentIn).map((version) => describeElsewhereVersion(model.name, version, stages)),
    ],
    /** TF Serving's model status, for its clients: this path is also TF Serving's status path (docs/models.md). */
    model_version_status: modelVersionStatus(model.versions.values()),
  }
}

/** A version as the catalog shows it, with its lifecycle stage (Unassigned until the registry knows it). */
export function describeVersionWithStage(v: ServingVersion, stages: StageCache) {
  const s = stages.get(v.model, v.version)
  return { ...describeVersion(v), stage: s?.stage ?? 'Unassigned', locked: s?.locked ?? false }
}

/** The versions with inferences sent in that have no folder here, in version order. */
export function servedElsewhere(model: ServingModel, sentIn: readonly string[]): string[] {
  return sentIn.filter((v) => !model.versions.has(v)).sort(compareVersionNames)
}

/** A version served elsewhere: known only by the inferences sent in; judged like the others. */
export function describeElsewhereVersion(model: string, version: string, stages: StageCache) {
  const s = stages.get(model, version)
  return { version, served: 'elsewhere', state: null, label: null, description: null, stage: s?.stage ?? 'Unassigned', locked: s?.locked ?? false }
}

export function describeVersion(v: ServingVersion) {
  const base = `/models/${v.model}/versions/${v.version}`
  return {
    version: v.version,
    served: 'here',
    state: v.state,
    reason: v.reason,
    /** Its folder is gone; it serves until routes.yaml stops sending it traffic. */
    removed_from_disk: v.isRemovedFromDisk,
    label: v.metadata?.label ?? null,
    description: v.metadata?.description ?? null,
    created: v.metadata?.created ?? null,
    sha256: v.session?.sha256 ?? v.metadata?.sha256 ?? null,
    signature: v.signature?.expected ?? null,
    training: v.metadata?.training ?? null,
    inputs: v.inputs.map(describeSpec),
    outputs: v.outputs.map(describeSpec),
    remote: v.upstream,
    /** 'ok', 'failed: <why>' or 'skipped: <why>' for a loaded local version: a warm-up never fails the version */
    warmup: v.session?.warmup ?? null,
    /** the warm run of a typical batch at load (ms), which places the version's mirrors; null when untimed */
    batch_run_ms: v.session === null || v.session.batchRunMs === null ? null : Math.round(v.session.batchRunMs * 1000) / 1000,
    mirrors_run_on: v.state !== 'ready' ? null : runsInline(v) ? 'request thread' : 'mirror worker',
    /** where the version's own runs happen: a heavy one's on a session thread (runtime/session-thread.ts); null for a remote version */
    session_runs_on: v.state !== 'ready' || v.session === null ? null : v.sessionThread !== null ? 'session thread' : 'request thread',
    /** requests served and session runs made: fewer runs than requests means coalescing works */
    runtime: v.runner === null ? null : { requests: v.runner.stats.requests, runs: v.runner.stats.runs },
    /** version.yaml's dynamic batching, in force only when the model's first dimensions are dynamic */
    batching: v.metadata?.batching !== undefined && v.session?.isBatchable === true ? v.metadata.batching : null,
    endpoints: {
      predict: v.metadata?.signature ? `/v1${base}/predict` : null,
      infer: `/v2${base}/infer`,
    },
  }
}
