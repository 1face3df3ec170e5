/**
 * After a routed answer is sent: shadows and challengers score the same inputs off the hot
 * path, and their outputs are compared with the primary's on the same rows. A canary's
 * candidate answers are also scored by the baseline, for the disagreement condition.
 *
 * Nothing here is awaited by a request. Failures and drops are counted, never sent to a client.
 */
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { RecordContext } from '../inference-log/record-context.js'
import type { Logger } from '../log.js'
import type { ServingMetrics } from '../metrics/serving-metrics.js'
import type { ServingVersion } from '../runtime/model-pool.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { encodePredictions } from '../runtime/signature.js'
import { encodeInferResponse } from '../runtime/v2-infer.js'
import type { Feed, OutputTensor, RunOutputs } from '../runtime/tensors.js'
import type { MirrorTarget } from './mirror-protocol.js'
import type { MirrorRunner } from './mirror-runner.js'
import type { CompiledRoute, Decision } from './route-table.js'

export type MirrorRole = 'shadow' | 'challenger' | 'baseline-check'

export interface PrimaryRun {
  readonly version: ServingVersion
  readonly decision: Decision
  readonly feeds: readonly Feed[]
  readonly rows: number
  readonly outputs: RunOutputs
  readonly latencyMs: number
  /** The primary's record context; shadows and challengers are recorded with the same ids and inputs. */
  readonly record: RecordContext | null
}

/** Counts for one (model, version, role); shown by GET /admin/routes and exported as metrics. */
export class MirrorStat {
  requests = 0
  errors = 0
  dropped = 0
  comparedRows = 0
  agreedRows = 0
  latencyMsSum = 0

  describe() {
    return {
      requests: this.requests,
      errors: this.errors,
      dropped: this.dropped,
      compared_rows: this.comparedRows,
      agreement: this.comparedRows === 0 ? null : this.agreedRows / this.comparedRows,
      mean_latency_ms: this.requests - this.errors > 0 ? this.latencyMsSum / (this.requests - this.errors) : null,
    }
  }
}

export class Mirrors {
  readonly #runner: MirrorRunner
  readonly #pool: ModelPool
  readonly #log: Logger
  readonly #inferenceLog: InferenceLog
  readonly #metrics: ServingMetrics
  /** Every mirror's counts, by `model\u0000version\u0000role`, for listing. */
  readonly stats = new Map<string, MirrorStat>()
  /** The same, found without building a key: model -> version -> role. */
  readonly #statsByVersion = new Map<string, Map<string, Map<MirrorRole, MirrorStat>>>()
  constructor(runner: MirrorRunner, pool: ModelPool, log: Logger, inferenceLog: InferenceLog, metrics: ServingMetrics) {
    this.#runner = runner
    this.#pool = pool
    this.#log = log
    this.#inferenceLog = inferenceLog
    this.#metrics = metrics
  }

  afterPrimary(route: CompiledRoute, primary: PrimaryRun): void {
    for (const s of route.shadows) {
      if (s.version !== primary.version.version && Math.random() * 100 < s.percent) this.#mirror('shadow', s.version, primary)
    }
    for (const c of route.challengers) {
      if (c.version !== primary.version.version && Math.random() * 100 < c.percent) this.#mirror('challenger', c.version, primary)
    }
    const canary = route.canary
    if (canary !== null && primary.decision.reason === 'canary-candidate') {
      this.#mirror('baseline-check', canary.config.baseline, primary, (agreed) => canary.observeComparison(agreed))
    }
  }

  statFor(model: string, version: string, role: MirrorRole): MirrorStat {
    let byRole = this.#statsByVersion.get(model)?.get(version)
    if (byRole === undefined) {
      let byVersion = this.#statsByVersion.get(model)
      if (byVersion === undefined) this.#statsByVersion.set(model, (byVersion = new Map()))
      byVersion.set(version, (byRole = new Map()))
    }
    let stat = byRole.get(role)
    if (stat === undefined) {
      stat = new MirrorStat()
      byRole.set(role, stat)
      this.stats.set(`${model}\u0000${version}\u0000${role}`, stat)
    }
    return stat
  }

  #mirror(role: MirrorRole, versionName: string, primary: PrimaryRun, onCompared?: (agreed: boolean) => void): void {
    const model = primary.version.model
    const stat = this.statFor(model, versionName, role)
    const mirror = this.#pool.findReady(model, versionName)
    if (mirror === null || mirror.runner === null) {
      stat.requests++
      stat.errors++ // a missing or failed mirror version is counted, never raised
      return
    }
    // shadows and challengers are metered and recorded; the canary's baseline check only feeds the canary
    const metered = role !== 'baseline-check'
    const started = performance.now()
    const accepted = this.#runner.run(mirrorTarget(mirror), primary.feeds, primary.rows, (err, outputs, ms) => {
      if (outputs === null) {
        stat.errors++
        this.#log.warn('mirror run failed; the primary was not affected', { model, version: versionName, role, err: String(err?.message ?? err) })
        if (!metered) return
        this.#metrics.failed(model, versionName, model, role, 'INFERENCE_FAILED')
        if (primary.record !== null) this.#inferenceLog.record(primary.record, model, versionName, role, performance.now() - started, null, 500, 'INFERENCE_FAILED')
        return
      }
      stat.latencyMsSum += ms
      const { compared, agreed } = compareOutputs(primary, mirror, outputs)
      stat.comparedRows += compared
      stat.agreedRows += agreed
      onCompared?.(compared === agreed)
      if (!metered) return
      this.#metrics.answered(model, versionName, model, role, null, ms / 1000)
      if (primary.record !== null) this.#inferenceLog.record(primary.record, model, versionName, role, ms, mirrorAnswer(primary.record, mirror, outputs), 200, null)
    })
    if (!accepted) {
      stat.dropped++
      return
    }
    stat.requests++
  }
}

/** A mirror's outputs in the form its record keeps: named predictions for a native request, tensors for V2. */
function mirrorAnswer(record: RecordContext, mirror: ServingVersion, outputs: RunOutputs): string | null {
  if (record.kind === 'infer') return encodeInferResponse(mirror.model, mirror.version, String(record.ids[0]), outputs, mirror.outputs, null)
  return mirror.signature === null ? null : `{"predictions":${encodePredictions(outputs, mirror.signature, record.ids)}}`
}

/**
 * Row-by-row agreement on the output that decides: the signature's first field (the label
 * in our samples), else the model's first output. Floats agree within 1e-6.
 */
export function compareOutputs(primary: PrimaryRun, mirror: ServingVersion, outputs: RunOutputs): { compared: number; agreed: number } {
  const name = primary.version.signature?.outputs[0].output ?? primary.version.outputs[0]?.name
  const mirrorName = mirror.signature?.outputs[0].output ?? name
  const a = name === undefined ? undefined : primary.outputs[name]
  const b = mirrorName === undefined ? undefined : outputs[mirrorName]
  if (a === undefined || b === undefined || a.dims[0] !== b.dims[0]) return NOTHING_COMPARED
  const rows = a.dims[0]
  const size = rows === 0 ? 0 : a.data.length / rows
  if (rows > 0 && size !== b.data.length / rows) return { compared: rows, agreed: 0 }
  let agreed = 0
  for (let r = 0; r < rows; r++) if (rowsEqual(a, b, r, size)) agreed++
  return rows === 1 ? (agreed === 1 ? ONE_AGREED : ONE_DISAGREED) : { compared: rows, agreed }
}

const NOTHING_COMPARED = Object.freeze({ compared: 0, agreed: 0 })
const ONE_AGREED = Object.freeze({ compared: 1, agreed: 1 })
const ONE_DISAGREED = Object.freeze({ compared: 1, agreed: 0 })

function rowsEqual(a: OutputTensor, b: OutputTensor, row: number, size: number): boolean {
  for (let k = row * size; k < (row + 1) * size; k++) {
    const x = a.data[k]
    const y = b.data[k]
    if (typeof x === 'number' && typeof y === 'number') {
      if (Math.abs(x - y) > 1e-6) return false
    } else if (x !== y) return false
  }
  return true
}

const targets = new WeakMap<ServingVersion, MirrorTarget>()

/** Local versions get their own session on the mirror worker; remote ones are called from it. */
function mirrorTarget(v: ServingVersion): MirrorTarget {
  let target = targets.get(v)
  if (target === undefined) {
    target = v.upstream !== null
      ? { kind: 'remote', key: `${v.model}/${v.version}@${v.upstream}`, upstream: v.upstream, timeoutMs: v.remoteTimeoutMs }
      : { kind: 'onnx', key: `${v.model}/${v.version}/${v.session?.sha256 ?? ''}`, onnxPath: v.onnxPath }
    targets.set(v, target)
  }
  return target
}
