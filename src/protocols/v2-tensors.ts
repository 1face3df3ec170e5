/**
 * Open Inference Protocol (KServe V2) inference bodies: decode a request's typed tensors into
 * feeds for onnxruntime, checking each against the model's inputs, and encode the response.
 * The JSON data may be flat or nested in the tensor's natural shape (the protocol allows both).
 */
import { isValidInferenceId } from '../inference-id.js'
import { gatewayError, gatewayErrorWith } from '../errors.js'
import type { SwitchyardError } from '../errors.js'
import { datatypeInfo } from '../runtime/datatypes.js'
import type { DatatypeInfo } from '../runtime/datatypes.js'
import { elementCount } from '../runtime/tensors.js'
import { halfToFloat } from '../runtime/datatypes.js'
import { binaryOfTensor, readBinaryTensor } from './binary-tensors.js'
import type { Feed, RunOutputs, TensorData, TensorSpec } from '../runtime/tensors.js'

export interface DecodedInferRequest {
  /** The request's id, echoed in the response. */
  readonly id: string | undefined
  readonly feeds: readonly Feed[]
  /** The first dimension every input shares, or -1 when they do not share one. */
  readonly rows: number
  /** Output names the caller asked for, in order; null means all. */
  readonly outputs: readonly string[] | null
  /** Outputs to answer as binary data (binary_data, binary_data_output); null when none. */
  readonly binaryOutputs: ReadonlySet<string> | null
}

/**
 * Each binary input's bytes, by name: the data after the JSON header, cut in the order the
 * request lists its inputs (each binary_data_size long), every byte belonging to one.
 */
function binarySlices(given: readonly Record<string, unknown>[], binary: Buffer): Map<string, Buffer> {
  const slices = new Map<string, Buffer>()
  let at = 0
  for (const raw of given) {
    const size = isPlainObject(raw.parameters) ? raw.parameters.binary_data_size : undefined
    if (size === undefined) continue
    const name = raw.name as string
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw gatewayError('PARAMETERS_INVALID', `inputs '${name}' parameters`, "'binary_data_size' must be a whole number of bytes")
    if (at + (size as number) > binary.length) throw gatewayError('TENSOR_BINARY_SIZE_MISMATCH', name, at + (size as number), binary.length, 'the binary_data_size of the inputs up to this one; the binary data after the JSON header')
    slices.set(name, binary.subarray(at, at + (size as number)))
    at += size as number
  }
  if (at !== binary.length) throw gatewayError('TENSOR_BINARY_SIZE_MISMATCH', '(all inputs)', at, binary.length, "the inputs' binary_data_size together")
  return slices
}

export const MAX_RANK = 16 // dimensions; deeper nesting is rejected before it is walked

/**
 * `binary`: the bytes after the JSON header when the request came with
 * Inference-Header-Content-Length (the binary tensor data extension); null for a JSON body,
 * whose inputs then must carry their data as JSON.
 */
export function decodeInferRequest(body: unknown, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], maxRows: number, binary: Buffer | null = null): DecodedInferRequest {
  if (!isPlainObject(body)) throw gatewayError('BODY_INVALID', 'an inference request is a JSON object with an "inputs" array')
  const { id, parameters, inputs: given, outputs: wanted } = body as Record<string, unknown>
  if (id !== undefined && typeof id !== 'string') throw gatewayError('BODY_INVALID', '"id" must be a string')
  // the id is the inference id the log keys on: the same rule as a native row's id or X-Inference-Id
  if (id !== undefined && !isValidInferenceId(id)) throw gatewayError('INFERENCE_ID_INVALID', 'the request\'s "id"')
  checkParameters(parameters, 'parameters', REQUEST_BINARY_KEYS)
  if (!Array.isArray(given) || given.length === 0) throw gatewayError('BODY_INVALID', '"inputs" must be a non-empty array of tensors')
  const byName = new Map<string, Record<string, unknown>>()
  for (const [i, raw] of given.entries()) {
    if (!isPlainObject(raw) || typeof raw.name !== 'string') throw gatewayError('BODY_INVALID', `inputs[${i}] must be an object with a string "name"`)
    const spec = inputs.find((s) => s.name === raw.name)
    if (spec === undefined) throw gatewayErrorWith('TENSOR_INPUT_UNKNOWN', { details: { inputs: inputs.map(describeSpec) } }, raw.name, inputs.map((s) => s.name))
    if (byName.has(raw.name)) throw gatewayError('TENSOR_INPUT_DUPLICATE', raw.name)
    byName.set(raw.name, raw)
  }
  const slices = binary === null ? null : binarySlices(given as Record<string, unknown>[], binary)
  const feeds: Feed[] = []
  let rows: number | undefined
  for (const spec of inputs) {
    const raw = byName.get(spec.name)
    if (raw === undefined) throw gatewayErrorWith('TENSOR_INPUT_MISSING', { details: { inputs: inputs.map(describeSpec) } }, spec.name)
    const feed = decodeInput(raw, spec, maxRows, slices)
    const first = feed.dims.length > 0 ? feed.dims[0] : -1
    rows = rows === undefined || rows === first ? first : -1
    feeds.push(feed)
  }
  const asked = decodeRequestedOutputs(wanted, outputs)
  const allBinary = isPlainObject(parameters) && parameters.binary_data_output === true
  return { id, feeds, rows: rows ?? -1, outputs: asked?.names ?? null, binaryOutputs: binaryOutputsOf(asked, allBinary, outputs) }
}

/** The outputs to send as binary: each output's binary_data, else the request's binary_data_output. */
function binaryOutputsOf(asked: RequestedOutputs | null, allBinary: boolean, outputs: readonly TensorSpec[]): ReadonlySet<string> | null {
  const names = (asked?.names ?? outputs.map((o) => o.name)).filter((n) => asked?.binary.get(n) ?? allBinary)
  return names.length === 0 ? null : new Set(names)
}

function decodeInput(raw: Record<string, unknown>, spec: TensorSpec, maxRows: number, slices: ReadonlyMap<string, Buffer> | null): Feed {
  const { name, shape, datatype, data, parameters } = raw as { name: string; shape: unknown; datatype: unknown; data: unknown; parameters: unknown }
  checkParameters(parameters, `inputs '${name}' parameters`, slices === null ? NO_BINARY_KEYS : INPUT_BINARY_KEYS)
  if (typeof datatype !== 'string') throw gatewayError('BODY_INVALID', `input '${name}' needs a "datatype" string such as "FP32"`)
  const slice = slices?.get(name)
  if (slice !== undefined) return decodeBinaryInput(name, shape, datatype, spec, maxRows, slice)
  const info = datatypeInfo(datatype)
  if (info === undefined) throw gatewayError('TENSOR_DATATYPE_UNSUPPORTED', name, datatype)
  if (spec.datatype !== datatype) throw gatewayError('TENSOR_DATATYPE_MISMATCH', name, spec.datatype ?? spec.ortType, datatype)
  const dims = checkedShape(name, shape, spec, maxRows)
  if (!Array.isArray(data)) throw gatewayError('BODY_INVALID', `input '${name}' needs "data": an array of its elements`)
  const expected = elementCount(dims)
  const given = countElements(data)
  if (given === Number.POSITIVE_INFINITY) throw gatewayError('BODY_INVALID', `input '${name}' data is nested deeper than ${MAX_RANK} levels`)
  if (given !== expected) throw gatewayError('TENSOR_DATA_SIZE_MISMATCH', name, expected, given)
  return { name, type: info.ortType, data: fillTensor(name, data, dims, info), dims }
}

/** The input's shape, checked against the model's and, before anything is sized from it, the row limit. */
export function checkedShape(name: string, shape: unknown, spec: TensorSpec, maxRows: number): number[] {
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw gatewayError('BODY_INVALID', `input '${name}' needs a "shape": an array of non-negative integers`)
  }
  const dims = shape as number[]
  const fits = dims.length === spec.shape.length && spec.shape.every((d, k) => d === -1 || d === dims[k])
  if (!fits) throw gatewayError('TENSOR_SHAPE_MISMATCH', name, formatShape(spec.shape), formatShape(dims))
  // a shape of [2^53-1, 4] must be a 400, not an allocation that fails
  if (dims.length > 0 && dims[0] > maxRows) throw gatewayError('BATCH_TOO_LARGE', dims[0], maxRows)
  return dims
}

/** An input sent as binary data: its datatype the model's, or FP16/BF16 for a float32 input (widened). */
function decodeBinaryInput(name: string, shape: unknown, datatype: string, spec: TensorSpec, maxRows: number, bytes: Buffer): Feed {
  const isWidened = (datatype === 'FP16' || datatype === 'BF16') && spec.ortType === 'float32'
  if (spec.datatype !== datatype && !isWidened) throw gatewayError('TENSOR_DATATYPE_MISMATCH', name, spec.datatype ?? spec.ortType, datatype)
  const dims = checkedShape(name, shape, spec, maxRows)
  return { name, type: spec.ortType as Feed['type'], data: readBinaryTensor(name, bytes, elementCount(dims), datatype, spec), dims }
}

/**
 * Copy JSON data, flat or nested exactly to the shape (each level as long as its dimension),
 * into the typed array onnxruntime wants, checking every element. The caller has checked the
 * element count, so the allocation is the data's own size.
 */
export function fillTensor(name: string, data: unknown[], dims: readonly number[], info: DatatypeInfo): TensorData {
  const expected = elementCount(dims)
  const out = info.allocate === null ? new Array<string>(expected) : info.allocate(expected)
  const isNested = data.some(Array.isArray)
  let count = 0
  const walk = (items: unknown[], depth: number): void => {
    if (isNested && items.length !== dims[depth]) {
      throw gatewayError('BODY_INVALID', `input '${name}' data is nested against its shape ${formatShape(dims)}: a level has ${items.length} items where the shape says ${dims[depth] ?? 'none'}; send the data flat or nested exactly to the shape`)
    }
    for (const item of items) {
      if (Array.isArray(item)) {
        if (depth + 1 >= dims.length) throw gatewayError('BODY_INVALID', `input '${name}' data is nested deeper than its ${dims.length} dimensions`)
        walk(item, depth + 1)
        continue
      }
      if (isNested && depth !== dims.length - 1) {
        throw gatewayError('BODY_INVALID', `input '${name}' data mixes values and arrays at one level; send the data flat or nested exactly to the shape ${formatShape(dims)}`)
      }
      out[count] = checkElement(name, count, item, info)
      count++
    }
  }
  walk(data, 0)
  return out as TensorData
}

function checkElement(name: string, index: number, v: unknown, info: DatatypeInfo): unknown {
  switch (info.kind) {
    case 'float':
      if (typeof v === 'number' && Number.isFinite(v)) return v
      throw elementError(name, index, `a finite number (${info.datatype}); NaN and Infinity cannot be sent in JSON`)
    case 'int':
      if (Number.isInteger(v) && (v as number) >= info.min && (v as number) <= info.max) return v
      throw elementError(name, index, `an integer from ${info.min} to ${info.max} (${info.datatype})`)
    case 'bigint':
      if (Number.isSafeInteger(v) && (v as number) >= info.min) return BigInt(v as number)
      throw elementError(name, index, `an integer within ±(2^53-1) (${info.datatype} travels as a JSON number)`)
    case 'bool':
      if (typeof v === 'boolean') return v ? 1 : 0
      throw elementError(name, index, 'true or false (BOOL)')
    case 'string':
      if (typeof v === 'string') return v
      throw elementError(name, index, 'a string (BYTES)')
  }
}

function elementError(name: string, index: number, expected: string): SwitchyardError {
  return gatewayError('TENSOR_DATA_INVALID', name, index, expected)
}

/** Elements of (possibly nested) data, without walking deeper than MAX_RANK levels. */
function countElements(data: unknown[]): number {
  let n = 0
  const stack: [unknown[], number][] = [[data, 1]]
  while (stack.length > 0) {
    const [items, depth] = stack.pop()!
    for (const item of items) {
      if (!Array.isArray(item)) n++
      else if (depth < MAX_RANK) stack.push([item, depth + 1])
      else n += Number.POSITIVE_INFINITY // deeper than any shape: never equal to a count
    }
  }
  return n
}

interface RequestedOutputs {
  readonly names: string[]
  /** An output's own binary_data, where it says. */
  readonly binary: Map<string, boolean>
}

function decodeRequestedOutputs(wanted: unknown, outputs: readonly TensorSpec[]): RequestedOutputs | null {
  if (wanted === undefined) return null
  if (!Array.isArray(wanted)) throw gatewayError('BODY_INVALID', '"outputs" must be an array of {"name": ...} objects')
  const names: string[] = []
  const binary = new Map<string, boolean>()
  for (const [i, item] of wanted.entries()) {
    if (!isPlainObject(item) || typeof item.name !== 'string') throw gatewayError('BODY_INVALID', `outputs[${i}] must be an object with a string "name"`)
    checkParameters(item.parameters, `outputs '${item.name}' parameters`, OUTPUT_BINARY_KEYS)
    if (!outputs.some((o) => o.name === item.name)) throw gatewayError('OUTPUT_UNKNOWN', item.name, outputs.map((o) => o.name))
    if (!names.includes(item.name)) names.push(item.name)
    const asked = isPlainObject(item.parameters) ? item.parameters.binary_data : undefined
    if (typeof asked === 'boolean') binary.set(item.name, asked)
  }
  return { names, binary }
}

/** The binary extension's parameters each place may hold (Triton's extension_binary_data.md). */
const REQUEST_BINARY_KEYS = new Set(['binary_data_output'])
const OUTPUT_BINARY_KEYS = new Set(['binary_data'])
const INPUT_BINARY_KEYS = new Set(['binary_data_size'])
const NO_BINARY_KEYS = new Set<string>()

/**
 * `parameters` are flat maps of string, number or boolean. The binary extension's keys are
 * taken where they belong; binary_data_size on an input of a body without
 * Inference-Header-Content-Length is refused, since its data has nowhere to be.
 */
function checkParameters(parameters: unknown, where: string, binaryKeys: ReadonlySet<string>): void {
  if (parameters === undefined) return
  if (!isPlainObject(parameters)) throw gatewayError('PARAMETERS_INVALID', where, 'it must be an object')
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
      throw gatewayError('PARAMETERS_INVALID', where, `'${key}' is ${value === null ? 'null' : typeof value}`)
    }
    if (key === 'binary_data_size' && !binaryKeys.has(key)) {
      throw gatewayError('PARAMETERS_INVALID', where, "'binary_data_size' needs the data after the JSON header and an Inference-Header-Content-Length header giving the header's length")
    }
    if ((key === 'binary_data' || key === 'binary_data_output') && typeof value !== 'boolean') throw gatewayError('PARAMETERS_INVALID', where, `'${key}' must be true or false`)
  }
}

/** The response body, written by hand so that INT64 outputs keep every digit (and because it runs for every request). */
export function encodeInferResponse(
  model: string, version: string, id: string | undefined, outputs: RunOutputs, specs: readonly TensorSpec[], selected: readonly string[] | null,
): string {
  let json = `{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)}`
  if (id !== undefined) json += `,"id":${JSON.stringify(id)}`
  json += ',"outputs":['
  const count = selected === null ? specs.length : selected.length
  for (let i = 0; i < count; i++) {
    const spec = selected === null ? specs[i] : specs.find((s) => s.name === selected[i])!
    const tensor = outputs[spec.name]
    if (i > 0) json += ','
    json += `${outputHead(spec)}${tensor.dims.join(',')}],"data":[${encodeData(tensor.data, tensor.type)}]}`
  }
  return json + ']}'
}

/** A response some of whose outputs are binary data: the JSON header, then each binary output's bytes in order. */
export interface BinaryInferResponse {
  readonly header: string
  readonly blobs: readonly Buffer[]
}

/** The response when the request asked for binary outputs (binary_data, binary_data_output). */
export function encodeBinaryInferResponse(
  model: string, version: string, id: string | undefined, outputs: RunOutputs, specs: readonly TensorSpec[], selected: readonly string[] | null, binary: ReadonlySet<string>,
): BinaryInferResponse {
  let json = `{"model_name":${JSON.stringify(model)},"model_version":${JSON.stringify(version)}`
  if (id !== undefined) json += `,"id":${JSON.stringify(id)}`
  json += ',"outputs":['
  const blobs: Buffer[] = []
  const count = selected === null ? specs.length : selected.length
  for (let i = 0; i < count; i++) {
    const spec = selected === null ? specs[i] : specs.find((s) => s.name === selected[i])!
    const tensor = outputs[spec.name]
    if (i > 0) json += ','
    if (binary.has(spec.name)) {
      const blob = binaryOfTensor(tensor)
      blobs.push(blob)
      json += `${outputHead(spec)}${tensor.dims.join(',')}],"parameters":{"binary_data_size":${blob.length}}}`
    } else {
      json += `${outputHead(spec)}${tensor.dims.join(',')}],"data":[${encodeData(tensor.data, tensor.type)}]}`
    }
  }
  return { header: json + ']}', blobs }
}

const heads = new WeakMap<TensorSpec, string>()

/** An output's fixed opening, up to its shape: `{"name":"label","datatype":"INT64","shape":[`. */
function outputHead(spec: TensorSpec): string {
  let head = heads.get(spec)
  if (head === undefined) {
    head = `{"name":${JSON.stringify(spec.name)},"datatype":"${spec.datatype ?? 'BYTES'}","shape":[`
    heads.set(spec, head)
  }
  return head
}

function encodeData(data: TensorData, type: string): string {
  const n = data.length
  let out = ''
  if (Array.isArray(data)) {
    for (let i = 0; i < n; i++) out += (i > 0 ? ',' : '') + JSON.stringify(data[i])
  } else if (type === 'bool') {
    for (let i = 0; i < n; i++) out += (i > 0 ? ',' : '') + (data[i] ? 'true' : 'false')
  } else if (type === 'float32' || type === 'float64' || type === 'float16') {
    for (let i = 0; i < n; i++) {
      const v = type === 'float16' ? halfToFloat(data[i] as number) : data[i] as number // float16 comes as its bits
      out += (i > 0 ? ',' : '') + (Number.isFinite(v) ? String(v) : 'null') // JSON has no NaN or Infinity
    }
  } else {
    for (let i = 0; i < n; i++) out += (i > 0 ? ',' : '') + String(data[i])
  }
  return out
}

export function describeSpec(spec: TensorSpec): { name: string; datatype: string; shape: readonly number[] } {
  return { name: spec.name, datatype: spec.datatype ?? spec.ortType, shape: spec.shape }
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
