/**
 * One onnxruntime-node session per model version: check the file's sha256, create the
 * session, read its inputs and outputs, and warm it (warm-up.ts), which may fail without
 * failing the version.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import ort from 'onnxruntime-node'
import type { WarmupTensor } from '../registry/metadata.js'
import { datatypeOfOrtType } from './datatypes.js'
import type { TensorSpec } from './tensors.js'
import { warmUp, warmupFeeds } from './warm-up.js'
import type { WarmUp } from './warm-up.js'

export interface LoadedSession {
  readonly session: ort.InferenceSession
  readonly sha256: string
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  /** Every input and output has a dynamic first dimension, so requests can share a run. */
  readonly isBatchable: boolean
  /** How the warm-up went: 'ok', 'failed: <why>' or 'skipped: <why>'. */
  readonly warmup: string
  /**
   * How long a warm run of a typical batch took at load, in ms (warm-up.ts); null when the
   * warm-up failed or was skipped. Mirrors use it to decide where a version runs.
   */
  readonly batchRunMs: number | null
}

// Tiny tabular models run fastest on the request thread without a thread pool; the
// onnxruntime-node binding runs session.run synchronously on the main thread anyway.
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3, // errors only
}

/** `warmupInputs`: version.yaml's warm-up data; a problem with it (it does not fit the model) throws, a failed run does not. */
export async function loadSession(onnxPath: string, expectedSha256: string | undefined, warmupInputs?: Readonly<Record<string, WarmupTensor>>): Promise<LoadedSession> {
  const bytes = await readFile(onnxPath)
  const sha256 = sha256Of(bytes)
  if (expectedSha256 !== undefined && expectedSha256 !== sha256) {
    throw new Error(`sha256 mismatch: version.yaml says ${expectedSha256}, model.onnx is ${sha256}`)
  }
  let session: ort.InferenceSession
  try {
    session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS)
  } catch (err) {
    throw new Error(`onnxruntime cannot load model.onnx: ${firstLine(err)}`, { cause: err })
  }
  const inputs = session.inputMetadata.map(toTensorSpec)
  const outputs = session.outputMetadata.map(toTensorSpec)
  const isBatchable = [...inputs, ...outputs].every((t) => t.shape.length >= 1 && t.shape[0] === -1)
  let warmed: WarmUp
  try {
    warmed = await warmUp(session, inputs, isBatchable, warmupInputs === undefined ? null : warmupFeeds(warmupInputs, inputs))
  } catch (err) {
    await session.release()
    throw err
  }
  return { session, sha256, inputs, outputs, isBatchable, warmup: warmed.outcome, batchRunMs: warmed.batchRunMs }
}

/** The sha256 of model.onnx as loadSession reports it: what tells one model from another. */
export async function fileSha256(onnxPath: string): Promise<string> {
  return sha256Of(await readFile(onnxPath))
}

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

function toTensorSpec(meta: ort.InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, datatype: null, ortType: 'non-tensor', shape: [] }
  return {
    name: meta.name,
    datatype: datatypeOfOrtType(meta.type) ?? null,
    ortType: meta.type,
    shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]
}
