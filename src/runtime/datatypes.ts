/**
 * Open Inference Protocol datatypes and the onnxruntime tensor types they travel as.
 * FP16 and BF16 have no JSON form that backends agree on (the protocol says so), and
 * Node 20 has no Float16Array, so they are reported but not accepted in requests.
 */
import type { Tensor } from 'onnxruntime-node'

export type V2Datatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES'

export type ElementKind = 'float' | 'int' | 'bigint' | 'bool' | 'string'

export interface DatatypeInfo {
  readonly datatype: V2Datatype
  readonly ortType: Tensor.Type
  readonly kind: ElementKind
  /** Inclusive range for integer kinds; for 64-bit kinds, JSON can carry only safe integers. */
  readonly min: number
  readonly max: number
  /** Allocates the typed array onnxruntime expects for `n` elements; null for strings. */
  readonly allocate: ((n: number) => ArrayLike<unknown> & { [i: number]: unknown }) | null
}

const SAFE = Number.MAX_SAFE_INTEGER

const INFOS: readonly DatatypeInfo[] = [
  { datatype: 'BOOL', ortType: 'bool', kind: 'bool', min: 0, max: 1, allocate: (n) => new Uint8Array(n) },
  { datatype: 'UINT8', ortType: 'uint8', kind: 'int', min: 0, max: 255, allocate: (n) => new Uint8Array(n) },
  { datatype: 'UINT16', ortType: 'uint16', kind: 'int', min: 0, max: 65_535, allocate: (n) => new Uint16Array(n) },
  { datatype: 'UINT32', ortType: 'uint32', kind: 'int', min: 0, max: 4_294_967_295, allocate: (n) => new Uint32Array(n) },
  { datatype: 'UINT64', ortType: 'uint64', kind: 'bigint', min: 0, max: SAFE, allocate: (n) => new BigUint64Array(n) },
  { datatype: 'INT8', ortType: 'int8', kind: 'int', min: -128, max: 127, allocate: (n) => new Int8Array(n) },
  { datatype: 'INT16', ortType: 'int16', kind: 'int', min: -32_768, max: 32_767, allocate: (n) => new Int16Array(n) },
  { datatype: 'INT32', ortType: 'int32', kind: 'int', min: -2_147_483_648, max: 2_147_483_647, allocate: (n) => new Int32Array(n) },
  { datatype: 'INT64', ortType: 'int64', kind: 'bigint', min: -SAFE, max: SAFE, allocate: (n) => new BigInt64Array(n) },
  { datatype: 'FP32', ortType: 'float32', kind: 'float', min: -Infinity, max: Infinity, allocate: (n) => new Float32Array(n) },
  { datatype: 'FP64', ortType: 'float64', kind: 'float', min: -Infinity, max: Infinity, allocate: (n) => new Float64Array(n) },
  { datatype: 'BYTES', ortType: 'string', kind: 'string', min: 0, max: 0, allocate: null },
]

const BY_DATATYPE = new Map<string, DatatypeInfo>(INFOS.map((i) => [i.datatype, i]))
const BY_ORT_TYPE = new Map<string, V2Datatype>(INFOS.map((i) => [i.ortType, i.datatype]))
BY_ORT_TYPE.set('float16', 'FP16')

/** The request-side info for a datatype, or undefined when requests cannot carry it. */
export function datatypeInfo(datatype: string): DatatypeInfo | undefined {
  return BY_DATATYPE.get(datatype)
}

/** The protocol's name for an onnxruntime tensor type, or undefined when it has none. */
export function datatypeOfOrtType(type: string): V2Datatype | undefined {
  return BY_ORT_TYPE.get(type)
}

/**
 * A fixed-size datatype's elements over `buffer` as they lie in memory (little-endian): FP16
 * and BF16 as their bits, as onnxruntime takes float16. Undefined for BYTES.
 */
export function typedArrayOf(datatype: string, buffer: ArrayBuffer): ArrayLike<number | bigint> | undefined {
  switch (datatype) {
    case 'BOOL': case 'UINT8': return new Uint8Array(buffer)
    case 'INT8': return new Int8Array(buffer)
    case 'UINT16': case 'FP16': case 'BF16': return new Uint16Array(buffer)
    case 'INT16': return new Int16Array(buffer)
    case 'UINT32': return new Uint32Array(buffer)
    case 'INT32': return new Int32Array(buffer)
    case 'FP32': return new Float32Array(buffer)
    case 'UINT64': return new BigUint64Array(buffer)
    case 'INT64': return new BigInt64Array(buffer)
    case 'FP64': return new Float64Array(buffer)
    default: return undefined
  }
}

/** The value an IEEE half-precision (FP16) bit pattern stands for. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exponent = (h >> 10) & 0x1f
  const fraction = h & 0x3ff
  if (exponent === 0) return sign * fraction * 2 ** -24 // zero and subnormals
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
}

const bfloatWord = new Uint32Array(1)
const bfloatValue = new Float32Array(bfloatWord.buffer)

/** The value a bfloat16 bit pattern stands for: float32's top half. */
export function bfloatToFloat(h: number): number {
  bfloatWord[0] = h << 16
  return bfloatValue[0]
}
