/** The tensor shapes that travel between the HTTP layer, the coalescer and onnxruntime. */
import type { Tensor } from 'onnxruntime-node'
import type { V2Datatype } from './datatypes.js'

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | string[]

/** One input of a request, ready for onnxruntime; `dims[0]` is the row count when batchable. */
export interface Feed {
  readonly name: string
  readonly type: Tensor.Type
  readonly data: TensorData
  readonly dims: readonly number[]
}

/** One output tensor (or one request's rows of it after a coalesced run). */
export interface OutputTensor {
  readonly type: Tensor.Type
  readonly data: TensorData
  readonly dims: readonly number[]
}

export type RunOutputs = Readonly<Record<string, OutputTensor>>

/** A model input or output as the protocol describes it: dynamic dimensions are -1. */
export interface TensorSpec {
  readonly name: string
  /** null when the type has no protocol datatype (maps, sequences, bfloat16, ...). */
  readonly datatype: V2Datatype | null
  readonly ortType: string
  readonly shape: readonly number[]
}

export function elementCount(dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}
