/** Messages between the main thread and the mirror worker (shadow and challenger scoring). */
import type { Feed, RunOutputs } from '../runtime/tensors.js'

export type ToMirrorWorker =
  | { code: 'RUN'; id: number; key: string; onnxPath: string; feeds: Feed[]; rows: number }
  | { code: 'RELEASE'; key: string }

export type FromMirrorWorker =
  | { code: 'DONE'; id: number; outputs: RunOutputs; ms: number }
  | { code: 'FAILED'; id: number; message: string }
