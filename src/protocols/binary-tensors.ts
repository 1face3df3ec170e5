/**
 * Tensors as raw bytes: the Open Inference Protocol's binary tensor data extension (Triton's
 * extension_binary_data.md), which Triton's and KServe's clients use for large tensors.
 * Little-endian, row major, no padding; BOOL one byte an element; BYTES a 4-byte unsigned
 * length before each element's bytes. FP16 and BF16, which have no JSON form, travel this way:
 * as they are for a float16 input, widened (exactly) for a float32 one.
 */
import { gatewayError } from '../errors.js'
import { bfloatToFloat, halfToFloat, typedArrayOf } from '../runtime/datatypes.js'
import type { OutputTensor, TensorData, TensorSpec } from '../runtime/tensors.js'

/** Bytes an element of a fixed-size datatype takes; null for BYTES (each element says its length). */
export function elementBytes(datatype: string): number | null {
  switch (datatype) {
    case 'BOOL': case 'UINT8': case 'INT8': return 1
    case 'UINT16': case 'INT16': case 'FP16': case 'BF16': return 2
    case 'UINT32': case 'INT32': case 'FP32': return 4
    case 'UINT64': case 'INT64': case 'FP64': return 8
    case 'BYTES': return null
    default: throw gatewayError('TENSOR_DATATYPE_UNSUPPORTED', '(binary data)', datatype)
  }
}

/**
 * The elements of input `name` from its binary data: the byte count must be the shape's
 * element count times the datatype's size (for BYTES, the elements found must be the count).
 * `given` is the request's datatype; the model's input `spec` decides what onnxruntime gets.
 */
export function readBinaryTensor(name: string, bytes: Buffer, count: number, given: string, spec: TensorSpec): TensorData {
  const size = elementBytes(given)
  if (size === null) return readStrings(name, bytes, count)
  if (bytes.length !== count * size) throw gatewayError('TENSOR_BINARY_SIZE_MISMATCH', name, count * size, bytes.length, `${count} elements of ${given}, ${size} bytes each`)
  const copy = new ArrayBuffer(bytes.length) // aligned for the typed array; the body's offset may not be
  new Uint8Array(copy).set(bytes)
  if ((given === 'FP16' || given === 'BF16') && spec.ortType === 'float32') return widen(new Uint16Array(copy), given)
  const data = typedArrayOf(given, copy) as TensorData
  if (given === 'BOOL') for (let i = 0; i < data.length; i++) if ((data as Uint8Array)[i] > 1) throw gatewayError('TENSOR_DATA_INVALID', name, i, 'a BOOL byte of 0 or 1')
  return data
}

function readStrings(name: string, bytes: Buffer, count: number): string[] {
  const out = new Array<string>(count)
  let at = 0
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw gatewayError('TENSOR_BINARY_SIZE_MISMATCH', name, at + 4, bytes.length, `${count} BYTES elements, each a 4-byte length and its bytes; element ${i} is cut short`)
    const length = bytes.readUInt32LE(at)
    if (at + 4 + length > bytes.length) throw gatewayError('TENSOR_BINARY_SIZE_MISMATCH', name, at + 4 + length, bytes.length, `BYTES element ${i} says it has ${length} bytes`)
    out[i] = bytes.toString('utf8', at + 4, at + 4 + length)
    at += 4 + length
  }
  if (at !== bytes.length) throw gatewayError('TENSOR_BINARY_SIZE_MISMATCH', name, at, bytes.length, `${count} BYTES elements end before the data does`)
  return out
}

/** FP16 or BF16 bits to the float32 values they stand for: every one is exactly a float32. */
function widen(bits: Uint16Array, datatype: 'FP16' | 'BF16'): Float32Array {
  const out = new Float32Array(bits.length)
  const toFloat = datatype === 'BF16' ? bfloatToFloat : halfToFloat
  for (let i = 0; i < bits.length; i++) out[i] = toFloat(bits[i])
  return out
}

/** BYTES elements as the binary extension has them: each a 4-byte little-endian length, then its bytes. */
export function lengthPrefixed(items: readonly Buffer[]): Buffer {
  const out = Buffer.allocUnsafe(items.reduce((n, b) => n + 4 + b.length, 0))
  let at = 0
  for (const b of items) {
    out.writeUInt32LE(b.length, at)
    b.copy(out, at + 4)
    at += 4 + b.length
  }
  return out
}

/** An output's elements as the binary extension sends them. */
export function binaryOfTensor(tensor: OutputTensor): Buffer {
  const data = tensor.data
  if (Array.isArray(data)) return lengthPrefixed((data as unknown[]).map((s) => Buffer.from(String(s), 'utf8')))
  const view = data as ArrayBufferView
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength) // little-endian already on every platform Node runs on here
}
