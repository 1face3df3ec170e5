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
import type { Feed, RunOutputs, TensorData, TensorSpec } from '../runtime/tensors.js'

export interface DecodedInferRequest {
  /** The request's id, echoed in the response. */
  readonly id: string | undefined
  readonly feeds: readonly Feed[]
  /** The first dimension every input shares, or -1 when they do not share one. */
  readonly rows: number
  /** Output names the caller asked for, in order; null means all. */
  readonly outputs: readonly string[] | null
}

export const MAX_RANK = 16 // dimensions; deeper nesting is rejected before it is walked

export function decodeInferRequest(body: unknown, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[], maxRows: number): DecodedInferRequest {
  if (!isPlainObject(body)) throw gatewayError('BODY_INVALID', 'an inference request is a JSON object with an "inputs" array')
  const { id, parameters, inputs: given, outputs: wanted } = body as Record<string, unknown>
  if (id !== undefined && typeof id !== 'string') throw gatewayError('BODY_INVALID', '"id" must be a string')
  // the id is the inference id the log keys on: the same rule as a native row's id or X-Inference-Id
  if (id !== undefined && !isValidInferenceId(id)) throw gatewayError('INFERENCE_ID_INVALID', 'the request\'s "id"')
  checkParameters(parameters, 'parameters')
  if (!Array.isArray(given) || given.length === 0) throw gatewayError('BODY_INVALID', '"inputs" must be a non-empty array of tensors')
  const byName = new Map<string, Record<string, unknown>>()
  for (const [i, raw] of given.entries()) {
    if (!isPlainObject(raw) || typeof raw.name !== 'string') throw gatewayError('BODY_INVALID', `inputs[${i}] must be an object with a string "name"`)
    const spec = inputs.find((s) => s.name === raw.name)
    if (spec === undefined) throw gatewayErrorWith('TENSOR_INPUT_UNKNOWN', { details: { inputs: inputs.map(describeSpec) } }, raw.name, inputs.map((s) => s.name))
    if (byName.has(raw.name)) throw gatewayError('TENSOR_INPUT_DUPLICATE', raw.name)
    byName.set(raw.name, raw)
  }
  const feeds: Feed[] = []
  let rows: number | undefined
  for (const spec of inputs) {
    const raw = byName.get(spec.name)
    if (raw === undefined) throw gatewayErrorWith('TENSOR_INPUT_MISSING', { details: { inputs: inputs.map(describeSpec) } }, spec.name)
    const feed = decodeInput(raw, spec, maxRows)
    const first = feed.dims.length > 0 ? feed.dims[0] : -1
    rows = rows === undefined || rows === first ? first : -1
    feeds.push(feed)
  }
  return { id, feeds, rows: rows ?? -1, outputs: decodeRequestedOutputs(wanted, outputs) }
}

function decodeInput(raw: Record<string, unknown>, spec: TensorSpec, maxRows: number): Feed {
  const { name, shape, datatype, data, parameters } = raw as { name: string; shape: unknown; datatype: unknown; data: unknown; parameters: unknown }
  checkParameters(parameters, `inputs '${name}' parameters`)
  if (typeof datatype !== 'string') throw gatewayError('BODY_INVALID', `input '${name}' needs a "datatype" string such as "FP32"`)
  const info = datatypeInfo(datatype)
  if (info === undefined) throw gatewayError('TENSOR_DATATYPE_UNSUPPORTED', name, datatype)
  if (spec.datatype !== datatype) throw gatewayError('TENSOR_DATATYPE_MISMATCH', name, spec.datatype ?? spec.ortType, datatype)
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw gatewayError('BODY_INVALID', `input '${name}' needs a "shape": an array of non-negative integers`)
  }
  const dims = shape as number[]
  const fits = dims.length === spec.shape.length && spec.shape.every((d, k) => d === -1 || d === dims[k])
  if (!fits) throw gatewayError('TENSOR_SHAPE_MISMATCH', name, formatShape(spec.shape), formatShape(dims))
  // before anything is sized from the shape: a shape of [2^53-1, 4] must be a 400, not an allocation that fails
  if (dims.length > 0 && dims[0] > maxRows) throw gatewayError('BATCH_TOO_LARGE', dims[0], maxRows)
  if (!Array.isArray(data)) throw gatewayError('BODY_INVALID', `input '${name}' needs "data": an array of its elements`)
  const expected = elementCount(dims)
  const given = countElements(data)
  if (given === Number.POSITIVE_INFINITY) throw gatewayError('BODY_INVALID', `input '${name}' data is nested deeper than ${MAX_RANK} levels`)
  if (given !== expected) throw gatewayError('TENSOR_DATA_SIZE_MISMATCH', name, expected, given)
  return { name, type: info.ortType, data: fillTensor(name, data, dims, info), dims }
}

/**
 * Copy JSON data, flat or nested exactly to the shape (each level as long as its dimension),
 * into the typed array onnxruntime wants, checking every element. The caller has checked the
 * element count, so the allocation is the data's own size.
 */
function fillTensor(name: string, data: unknown[], dims: readonly number[], info: DatatypeInfo): TensorData {
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

function decodeRequestedOutputs(wanted: unknown, outputs: readonly TensorSpec[]): string[] | null {
  if (wanted === undefined) return null
  if (!Array.isArray(wanted)) throw gatewayError('BODY_INVALID', '"outputs" must be an array of {"name": ...} objects')
  const names: string[] = []
  for (const [i, item] of wanted.entries()) {
    if (!isPlainObject(item) || typeof item.name !== 'string') throw gatewayError('BODY_INVALID', `outputs[${i}] must be an object with a string "name"`)
    checkParameters(item.parameters, `outputs '${item.name}' parameters`)
    if (!outputs.some((o) => o.name === item.name)) throw gatewayError('OUTPUT_UNKNOWN', item.name, outputs.map((o) => o.name))
    if (!names.includes(item.name)) names.push(item.name)
  }
  return names
}

/**
 * `parameters` are flat maps of string, number or boolean. We honour the protocol's JSON form
 * only: the binary tensor data extension is refused rather than silently ignored.
 */
function checkParameters(parameters: unknown, where: string): void {
  if (parameters === undefined) return
  if (!isPlainObject(parameters)) throw gatewayError('PARAMETERS_INVALID', where, 'it must be an object')
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value !== 'string' && typeof value !== 'boolean' && !(typeof value === 'number' && Number.isFinite(value))) {
      throw gatewayError('PARAMETERS_INVALID', where, `'${key}' is ${value === null ? 'null' : typeof value}`)
    }
    if ((key === 'binary_data_output' || key === 'binary_data') && value === true) {
      throw gatewayError('PARAMETERS_INVALID', where, `'${key}: true' asks for the binary tensor extension, which this server does not implement; omit it to get JSON data`)
    }
    if (key === 'binary_data_size') throw gatewayError('PARAMETERS_INVALID', where, "'binary_data_size': binary tensor data is not supported; send the data as a JSON array")
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
  } else if (type === 'float32' || type === 'float64') {
    for (let i = 0; i < n; i++) {
      const v = data[i] as number
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
