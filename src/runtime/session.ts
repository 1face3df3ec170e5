/**
 * One onnxruntime-node session per model version: check the file's sha256, create the
 * session, read its inputs and outputs, warm it, and time a run of a typical batch.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import ort from 'onnxruntime-node'
import { datatypeOfOrtType } from './datatypes.js'
import type { TensorSpec } from './tensors.js'

export interface LoadedSession {
  readonly session: ort.InferenceSession
  readonly sha256: string
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  /** Every input and output has a dynamic first dimension, so requests can share a run. */
  readonly isBatchable: boolean
  /**
   * How long a warm run of TIMED_ROWS rows (one for a fixed-shape model) took at load, in ms;
   * null when no sample could be made. Mirrors use it to decide where a version runs.
   */
  readonly batchRunMs: number | null
}

const TIMED_ROWS = 32 // a coalesced run under load holds about this many requests (bench: 20-40)

// Tiny tabular models run fastest on the request thread without a thread pool; the
// onnxruntime-node binding runs session.run synchronously on the main thread anyway.
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3, // errors only
}

export async function loadSession(onnxPath: string, expectedSha256: string | undefined): Promise<LoadedSession> {
  const bytes = await readFile(onnxPath)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
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
  let batchRunMs: number | null
  try {
    batchRunMs = await warm(session, inputs, isBatchable ? TIMED_ROWS : 1)
  } catch (err) {
    await session.release()
    throw new Error(`warm-up run failed: ${firstLine(err)}`, { cause: err })
  }
  return { session, sha256, inputs, outputs, isBatchable, batchRunMs }
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

/**
 * Runs on rows of zeros, so that the first real request does not pay for allocation: one of
 * a single row, then one of `rows` rows, warm, which is timed (the fastest of three). Null
 * when no sample can be made (the version is not warmed).
 */
async function warm(session: ort.InferenceSession, inputs: readonly TensorSpec[], rows: number): Promise<number | null> {
  const sample = (n: number): Record<string, ort.Tensor> | null => {
    const feeds: Record<string, ort.Tensor> = {}
    for (const input of inputs) {
      if (input.datatype === null || input.datatype === 'FP16') return null
      const dims = input.shape.map((d, i) => (d === -1 ? (i === 0 ? n : 1) : d))
      feeds[input.name] = sampleTensor(input.ortType as ort.Tensor.Type, dims.reduce((a, b) => a * b, 1), dims)
    }
    return feeds
  }
  const one = sample(1)
  if (one === null) return null
  await session.run(one)
  const batch = sample(rows)!
  let fastest = Infinity
  try {
    for (let i = 0; i < 3; i++) {
      const started = performance.now()
      await session.run(batch)
      fastest = Math.min(fastest, performance.now() - started)
      if (fastest > 100) break // a run this slow needs no second look
    }
  } catch {
    return null // a batch this model refuses: its requests run alone anyway (run-coalescer.ts)
  }
  return fastest
}

function sampleTensor(type: ort.Tensor.Type, n: number, dims: number[]): ort.Tensor {
  switch (type) {
    case 'string': return new ort.Tensor('string', new Array<string>(n).fill(''), dims)
    case 'int64': return new ort.Tensor('int64', new BigInt64Array(n), dims)
    case 'uint64': return new ort.Tensor('uint64', new BigUint64Array(n), dims)
    case 'float64': return new ort.Tensor('float64', new Float64Array(n), dims)
    case 'int32': return new ort.Tensor('int32', new Int32Array(n), dims)
    case 'uint32': return new ort.Tensor('uint32', new Uint32Array(n), dims)
    case 'int16': return new ort.Tensor('int16', new Int16Array(n), dims)
    case 'uint16': return new ort.Tensor('uint16', new Uint16Array(n), dims)
    case 'int8': return new ort.Tensor('int8', new Int8Array(n), dims)
    case 'uint8': return new ort.Tensor('uint8', new Uint8Array(n), dims)
    case 'bool': return new ort.Tensor('bool', new Uint8Array(n), dims)
    default: return new ort.Tensor('float32', new Float32Array(n), dims)
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]
}
