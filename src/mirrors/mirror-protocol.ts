/** Messages between the main thread and the mirror worker (shadow and challenger scoring). */
import type { WarmupTensor } from '../registry/metadata.js'
import type { LoweredThread } from '../threads/thread-priority.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'

/** Where a mirror version runs: a local ONNX file (its own session in the worker) or a remote upstream. */
export type MirrorTarget =
  /** `warmup`: version.yaml's warm-up inputs, for the worker's own session. */
  | { kind: 'onnx'; key: string; onnxPath: string; warmup?: Readonly<Record<string, WarmupTensor>> }
  | { kind: 'remote'; key: string; upstream: string; timeoutMs: number }

/**
 * The mirrors of one batch (BATCH_MS) for one target. Jobs whose feeds share a row layout are
 * stacked along the first dimension, one fresh buffer an input, which is transferred rather
 * than copied; the worker splits them again. Job i has rows[i] rows; a job whose inputs do not
 * share a first dimension (rows -1) travels alone.
 */
export interface MirrorBatch {
  readonly target: MirrorTarget
  readonly ids: number[]
  readonly rows: number[]
  readonly feeds: Feed[]
}

/**
 * The answers of one BATCH_MS with the same output layout: outputs stacked along the first
 * dimension, one fresh buffer an output (transferred), job i owning rows[i] rows. A job whose
 * outputs have no shared first dimension travels alone, with rows [-1] and its outputs as they are.
 */
export interface OutcomeGroup {
  readonly ids: number[]
  readonly ms: number[]
  readonly rows: number[]
  readonly outputs: RunOutputs
}

export interface MirrorFailure {
  readonly id: number
  readonly message: string
}

/**
 * Jobs and outcomes cross in batches, at most one message every BATCH_MS each way. A message
 * wakes the other thread, and on this virtual machine a wake-up of a thread on the other core
 * is what costs (postMessage was 10 % of the request thread's busy time at one message a turn,
 * more than the mirrors' own work); a mirror answered a few milliseconds later costs nothing.
 * Tensors travel stacked in transferred buffers: cloning a small object graph per job, and
 * rebuilding it on the request thread, cost that thread more than the comparison it feeds.
 */
export const BATCH_MS = 20

export type ToMirrorWorker = { code: 'RUN'; batches: MirrorBatch[] }

export type FromMirrorWorker =
  | { code: 'OUTCOMES'; groups: OutcomeGroup[]; failures: MirrorFailure[] }
  /** Sent first: the worker's thread and the priority it lowered itself to (threads/thread-priority.ts). */
  | { code: 'PRIORITY'; lowered: LoweredThread }
