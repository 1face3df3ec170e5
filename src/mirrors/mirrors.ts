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
import { encodePredictions } from '../protocols/records.js'
import { encodeTfColumns } from '../protocols/tf-serving.js'
import { encodeInferResponse } from '../protocols/v2-tensors.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'
import type { MirrorTarget } from './mirror-protocol.js'
import type { MirrorCallback, MirrorRunner } from './mirror-runner.js'
import type { CompiledRoute, Decision } from '../router/route-table.js'

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
  /** Every mirror's counts: model -> version -> role (found without building a key). */
  readonly #statsByVersion = new Map<string, Map<string, Map<MirrorRole, MirrorStat>>>()
  constructor(runner: MirrorRunner, pool: ModelPool, log: Logger, inferenceLog: InferenceLog, metrics: ServingMetrics) {
    this.#runner = runner
    this.#pool = pool
    this.#log = log
    this.#inferenceLog = inferenceLog
    this.#metrics = metrics
  }

  afterPrimary(route: CompiledRoute, primary: PrimaryRun): void {
    // what the mirrors are compared with, copied out once: a pending mirror does not keep the
    // primary's outputs, and one waiting in the worker's outbox not its feeds either (RowStack
    // copies them; kept across a scavenge, they were most of what the request thread's
    // collector promoted with a shadow on: 1 MB every 50 ms at 18,000 a second)
    let deciding: DecidingRows | null = null
    for (const s of route.shadows) {
      if (s.version !== primary.version.version && Math.random() * 100 < s.percent) this.#mirror('shadow', s.version, primary, (deciding ??= decidingRows(primary)))
    }
    for (const c of route.challengers) {
      if (c.version !== primary.version.version && Math.random() * 100 < c.percent) this.#mirror('challenger', c.version, primary, (deciding ??= decidingRows(primary)))
    }
    const canary = route.canary
    if (canary !== null && primary.decision.reason === 'canary-candidate') {
      this.#mirror('baseline-check', canary.config.baseline, primary, (deciding ??= decidingRows(primary)), (agreed) => canary.observeComparison(agreed))
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
    }
    return stat
  }

  /** Every mirror's counts, for listing. */
  stats(): { model: string; version: string; role: MirrorRole; stat: MirrorStat }[] {
    return [...this.#statsByVersion].flatMap(([model, byVersion]) =>
      [...byVersion].flatMap(([version, byRole]) => [...byRole].map(([role, stat]) => ({ model, version, role, stat }))))
  }

  #mirror(role: MirrorRole, versionName: string, primary: PrimaryRun, deciding: DecidingRows | null, onCompared?: (agreed: boolean) => void): void {
    const model = primary.version.model
    const record = primary.record
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
    const done: MirrorCallback = (err, outputs, ms) => {
      if (outputs === null) {
        stat.errors++
        this.#log.warn('mirror run failed; the primary was not affected', { model, version: versionName, role, err: String(err?.message ?? err) })
        if (!metered) return
        this.#metrics.failed(model, versionName, model, role, 'INFERENCE_FAILED')
        if (record !== null) this.#inferenceLog.record(record, model, versionName, role, performance.now() - started, null, 500, 'INFERENCE_FAILED')
        return
      }
      stat.latencyMsSum += ms
      const { compared, agreed } = compareWithPrimary(deciding, mirror, outputs)
      stat.comparedRows += compared
      stat.agreedRows += agreed
      onCompared?.(compared === agreed)
      if (!metered) return
      this.#metrics.answered(model, versionName, model, role, null, ms / 1000)
      if (record !== null) this.#inferenceLog.record(record, model, versionName, role, ms, mirrorAnswer(record, mirror, outputs), 200, null)
    }
    const accepted = runsInline(mirror)
      ? this.#runner.runInline(mirror.runner, primary.feeds, primary.rows, done)
      : this.#runner.run(mirrorTarget(mirror), primary.feeds, primary.rows, done)
    if (!accepted) {
      stat.dropped++
      return
    }
    stat.requests++
  }
}

/**
 * A mirror's outputs in the form its record keeps: named predictions for a native request,
 * TF Serving's columns for a TF Serving one (rows need the request's instances, which the
 * record does not carry), tensors for V2.
 */
function mirrorAnswer(record: RecordContext, mirror: ServingVersion, outputs: RunOutputs): string | null {
  if (record.kind === 'tf-predict') return encodeTfColumns(mirror.outputs, outputs)
  if (record.kind !== 'predict') return encodeInferResponse(mirror.model, mirror.version, String(record.ids[0]), outputs, mirror.outputs, null) // V2, binary or not: the worker reads either
  return mirror.signature === null ? null : `{"predictions":${encodePredictions(outputs, mirror.signature, record.ids)}}`
}

/**
 * The primary's values of the output that decides agreement: the signature's first field (the
 * label in our samples), else the model's first output. A copy: nothing of the run is kept.
 */
interface DecidingRows {
  /** The primary's output name; a mirror without a signature is read under the same name. */
  readonly name: string
  readonly rows: number
  readonly rowSize: number
  readonly values: readonly unknown[]
}

function decidingRows(primary: PrimaryRun): DecidingRows | null {
  const name = primary.version.signature?.outputs[0].output ?? primary.version.outputs[0]?.name
  const tensor = name === undefined ? undefined : primary.outputs[name]
  if (name === undefined || tensor === undefined) return null
  const rows = tensor.dims[0]
  return { name, rows, rowSize: rows > 0 ? tensor.data.length / rows : 0, values: Array.from(tensor.data as ArrayLike<unknown>) }
}

/** Row-by-row agreement of a mirror's outputs with the primary's deciding values. Floats agree within 1e-6. */
function compareWithPrimary(deciding: DecidingRows | null, mirror: ServingVersion, outputs: RunOutputs): { compared: number; agreed: number } {
  if (deciding === null) return NOTHING_COMPARED
  const b = outputs[mirror.signature?.outputs[0].output ?? deciding.name]
  const rows = deciding.rows
  if (b === undefined || b.dims[0] !== rows) return NOTHING_COMPARED
  const size = deciding.rowSize
  if (rows > 0 && size !== b.data.length / rows) return { compared: rows, agreed: 0 }
  let agreed = 0
  for (let r = 0; r < rows; r++) if (rowsEqual(deciding.values, b.data, r, size)) agreed++
  return rows === 1 ? (agreed === 1 ? ONE_AGREED : ONE_DISAGREED) : { compared: rows, agreed }
}

const NOTHING_COMPARED = Object.freeze({ compared: 0, agreed: 0 })
const ONE_AGREED = Object.freeze({ compared: 1, agreed: 1 })
const ONE_DISAGREED = Object.freeze({ compared: 1, agreed: 0 })

function rowsEqual(a: ArrayLike<unknown>, b: ArrayLike<unknown>, row: number, size: number): boolean {
  for (let k = row * size; k < (row + 1) * size; k++) {
    const x = a[k]
    const y = b[k]
    if (typeof x === 'number' && typeof y === 'number') {
      if (Math.abs(x - y) > 1e-6) return false
    } else if (x !== y) return false
  }
  return true
}

/**
 * Most a mirror version's run of a typical batch may take, at load, for it to run on the
 * request thread (ms): a turn's primaries then wait at most about this long for it. On this
 * 2-core machine a cheap shadow on the request thread left the primary's p99 as it was
 * (1.03 x at half the maximum rate), where the same shadow on the mirror worker made it
 * 2-3 x: the worker's wake-ups and runs took the cores from the request thread and the
 * load generator, even at SCHED_IDLE (bench/README.md). Slower versions, and remote ones,
 * run on the worker.
 */
const INLINE_RUN_BUDGET_MS = 1

/**
 * Whether mirrors of `v` run on the request thread's coalescer rather than on the mirror
 * worker: local versions whose requests share runs (a fixed-shape version runs each request
 * alone, so a turn's mirrors would cost its one-row time that many times over).
 */
export function runsInline(v: ServingVersion): boolean {
  const session = v.upstream === null ? v.session : null
  // untimed (a failed or skipped warm-up): its cost is unknown, so it runs where it cannot hold up primaries
  return session != null && session.isBatchable && session.batchRunMs !== null && session.batchRunMs <= INLINE_RUN_BUDGET_MS
}

const targets = new WeakMap<ServingVersion, MirrorTarget>()

/** Local versions get their own session on the mirror worker; remote ones are called from it. */
function mirrorTarget(v: ServingVersion): MirrorTarget {
  let target = targets.get(v)
  if (target === undefined) {
    target = v.upstream !== null
      ? { kind: 'remote', key: `${v.model}/${v.version}@${v.upstream}`, upstream: v.upstream, timeoutMs: v.remoteTimeoutMs }
      : { kind: 'onnx', key: `${v.model}/${v.version}/${v.session?.sha256 ?? ''}`, onnxPath: v.onnxPath, warmup: v.metadata?.warmup?.inputs }
    targets.set(v, target)
  }
  return target
}
