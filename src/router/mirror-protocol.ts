/** Messages between the main thread and the mirror worker (shadow and challenger scoring). */
import type { Feed, RunOutputs } from '../runtime/tensors.js'

/** Where a mirror version runs: a local ONNX file (its own session in the worker) or a remote upstream. */
export type MirrorTarget =
  | { kind: 'onnx'; key: string; onnxPath: string }
  | { kind: 'remote'; key: string; upstream: string; timeoutMs: number }

export interface MirrorJob {
  readonly id: number
  readonly target: MirrorTarget
  readonly feeds: Feed[]
  readonly rows: number
}

export type MirrorOutcome =
  | { code: 'DONE'; id: number; outputs: RunOutputs; ms: number }
  | { code: 'FAILED'; id: number; message: string }

/**
 * Jobs and outcomes cross in batches, one message per event-loop turn each way: a message
 * per mirror cost the request thread more than the mirror itself (bench/results).
 */
export type ToMirrorWorker = { code: 'RUN'; jobs: MirrorJob[] }

export type FromMirrorWorker = { code: 'OUTCOMES'; outcomes: MirrorOutcome[] }
