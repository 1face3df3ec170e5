/** Messages between the main thread and the mirror worker (shadow and challenger scoring). */
import type { Feed, RunOutputs } from '../runtime/tensors.js'

/** Where a mirror version runs: a local ONNX file (its own session in the worker) or a remote upstream. */
export type MirrorTarget =
  | { kind: 'onnx'; key: string; onnxPath: string }
  | { kind: 'remote'; key: string; upstream: string; timeoutMs: number }

export type ToMirrorWorker =
  | { code: 'RUN'; id: number; target: MirrorTarget; feeds: Feed[]; rows: number }
  | { code: 'RELEASE'; key: string }

export type FromMirrorWorker =
  | { code: 'DONE'; id: number; outputs: RunOutputs; ms: number }
  | { code: 'FAILED'; id: number; message: string }
