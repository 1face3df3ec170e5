/**
 * TF Serving's REST predict API (../shared/specs/tfserving-api_rest.md): the version's input
 * tensors as nested JSON lists, by rows or by columns, and its outputs answered the same way.
 *
 *   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict
 *     {"instances": [[5.1, 3.5, 1.4, 0.2]]}         rows: one input's value per instance,
 *     {"instances": [{"x": [...], "y": 3}]}          or one object of named inputs per instance
 *     {"inputs": [[5.1, 3.5, 1.4, 0.2]]}            columns: one input's whole tensor,
 *     {"inputs": {"x": [[...]], "y": 16000}}         or an object of named tensors
 *   200  {"predictions": [{"label": 0, "probabilities": [...]}]}   rows (a bare value a row for one output)
 *        {"outputs": {"label": [0], "probabilities": [[...]]}}    columns (a bare tensor for one output)
 *
 * Strings may come as {"b64": "..."}; outputs named *_bytes go back that way. An ONNX model has
 * one signature, `serving_default`. The inference id is X-Inference-Id, else a new UUIDv7.
 */
import { gatewayError, gatewayErrorWith } from '../errors.js'
import { newInferenceId } from '../inference-id.js'
import { datatypeInfo, halfToFloat } from '../runtime/datatypes.js'
import type { Feed, OutputTensor, RunOutputs, TensorSpec } from '../runtime/tensors.js'
import type { DecodeContext, DecodedRequest, InferenceProtocol, RequestBody, RequestDecoder } from './protocol.js'
import { MAX_RANK, checkedShape, describeSpec, fillTensor } from './v2-tensors.js'

export const TF_SIGNATURE = 'serving_default' // the one signature an ONNX model has
const BYTES_SUFFIX = '_bytes' // TF Serving answers string outputs named so as {"b64": ...}

/** A TF Serving request decoded: which form it came in, for the answer to take the same one. */
export interface TfDecodedRequest extends DecodedRequest {
  /** `instances` (rows) or `inputs` (columns). */
  readonly format: 'row' | 'columnar'
  /** Instances in a row request; -1 for a columnar one. */
  readonly instances: number
}

/** The body's own checks, without a version: an object, one of instances and inputs, the one signature. */
function checkedBody(body: RequestBody): { instances: unknown; inputs: unknown } {
  const value = body.value()
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw gatewayError('BODY_INVALID', 'a TF Serving predict request is an object: {"instances": [...]} (rows) or {"inputs": ...} (columns)')
  }
  const { signature_name: signature, instances, inputs } = value as Record<string, unknown>
  if (signature !== undefined && typeof signature !== 'string') throw gatewayError('BODY_INVALID', '"signature_name" must be a string')
  if (signature !== undefined && signature !== TF_SIGNATURE) throw gatewayError('TF_SIGNATURE_UNKNOWN', signature)
  if (instances !== undefined && inputs !== undefined) throw gatewayError('BODY_INVALID', 'send either "instances" (rows) or "inputs" (columns), not both')
  if (instances === undefined && inputs === undefined) throw gatewayError('BODY_INVALID', 'a predict request needs "instances" (rows) or "inputs" (columns)')
  return { instances, inputs }
}

const parsedTensors: RequestDecoder = {
  name: 'tf-serving parsed',
  decode(body, version, context) {
    const { instances, inputs } = checkedBody(body)
    const specs = version.inputs
    const ids = [context.callerId ?? newInferenceId()]
    if (instances !== undefined) {
      const feeds = decodeInstances(instances, specs, context)
      return { feeds, rows: sharedRows(feeds), ids, outputs: null, binaryOutputs: null, format: 'row', instances: (instances as unknown[]).length } satisfies TfDecodedRequest
    }
    const feeds = decodeColumns(inputs, specs, context)
    return { feeds, rows: sharedRows(feeds), ids, outputs: null, binaryOutputs: null, format: 'columnar', instances: -1 } satisfies TfDecodedRequest
  },
}

/** Rows: `instances` is a list over the first dimension; each item is the one input's value, or an object of every input's. */
function decodeInstances(instances: unknown, specs: readonly TensorSpec[], context: DecodeContext): Feed[] {
  if (!Array.isArray(instances) || instances.length === 0) throw gatewayError('BODY_INVALID', '"instances" must be a non-empty list, one item for each instance')
  if (instances.length > context.maxRows) throw gatewayError('BATCH_TOO_LARGE', instances.length, context.maxRows)
  const isNamed = isNamedObject(instances[0])
  if (!isNamed && specs.length > 1) {
    throw gatewayErrorWith('BODY_INVALID', { details: { inputs: specs.map(describeSpec) } },
      `the model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}), so each instance must be an object naming them, or send the columnar form {"inputs": {...}}`)
  }
  const values = new Map<string, unknown[]>(specs.map((s) => [s.name, new Array<unknown>(instances.length)]))
  for (const [i, instance] of instances.entries()) {
    if (isNamedObject(instance) !== isNamed) {
      throw gatewayError('BODY_INVALID', `instances[${i}] is ${isNamed ? 'not an object of named inputs' : 'an object'} where instances[0] is ${isNamed ? 'one' : 'not'}; send every instance in the same form`)
    }
    if (!isNamed) {
      values.get(specs[0].name)![i] = instance
      continue
    }
    for (const [key, value] of Object.entries(instance as Record<string, unknown>)) {
      const column = values.get(key)
      if (column === undefined) throw gatewayErrorWith('TENSOR_INPUT_UNKNOWN', { details: { inputs: specs.map(describeSpec) } }, key, specs.map((s) => s.name))
      column[i] = value
    }
    for (const spec of specs) {
      if (!Object.hasOwn(instance as object, spec.name)) throw gatewayErrorWith('TENSOR_INPUT_MISSING', { details: { inputs: specs.map(describeSpec) } }, spec.name, `instances[${i}]`)
    }
  }
  return specs.map((spec) => {
    const column = values.get(spec.name)!
    const itemDims = shapeOf(spec.name, column[0])
    const flat: unknown[] = []
    for (const [i, item] of column.entries()) flattenInto(spec, item, itemDims, 0, flat, `instances[${i}]`, itemDims)
    return feedOf(spec, [column.length, ...itemDims], flat, context)
  })
}

/** Columns: `inputs` is the one input's tensor, or an object of every input's tensor. */
function decodeColumns(inputs: unknown, specs: readonly TensorSpec[], context: DecodeContext): Feed[] {
  if (!isNamedObject(inputs)) {
    if (specs.length > 1) {
      throw gatewayErrorWith('BODY_INVALID', { details: { inputs: specs.map(describeSpec) } },
        `the model has ${specs.length} inputs (${specs.map((s) => s.name).join(', ')}), so "inputs" must be an object naming them`)
    }
    return [columnFeed(specs[0], inputs, context)]
  }
  const given = inputs as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!specs.some((s) => s.name === key)) throw gatewayErrorWith('TENSOR_INPUT_UNKNOWN', { details: { inputs: specs.map(describeSpec) } }, key, specs.map((s) => s.name))
  }
  return specs.map((spec) => {
    if (!Object.hasOwn(given, spec.name)) throw gatewayErrorWith('TENSOR_INPUT_MISSING', { details: { inputs: specs.map(describeSpec) } }, spec.name)
    return columnFeed(spec, given[spec.name], context)
  })
}

function columnFeed(spec: TensorSpec, value: unknown, context: DecodeContext): Feed {
  const dims = shapeOf(spec.name, value)
  const flat: unknown[] = []
  flattenInto(spec, value, dims, 0, flat, '"inputs"', dims)
  return feedOf(spec, dims, flat, context)
}

/** The feed, its shape checked against the model's (rank, fixed sizes, the row limit) and every element against its datatype. */
function feedOf(spec: TensorSpec, dims: number[], flat: unknown[], context: DecodeContext): Feed {
  const info = spec.datatype === null ? undefined : datatypeInfo(spec.datatype)
  if (info === undefined) throw gatewayError('TENSOR_DATATYPE_UNSUPPORTED', spec.name, spec.datatype ?? spec.ortType)
  checkedShape(spec.name, dims, spec, context.maxRows)
  return { name: spec.name, type: info.ortType, data: fillTensor(spec.name, flat, dims, info), dims }
}

/** The shape a nested list says along its first items; checked against every item by flattenInto. */
function shapeOf(name: string, value: unknown): number[] {
  const dims: number[] = []
  let v = value
  while (Array.isArray(v)) {
    if (dims.length === MAX_RANK) throw gatewayError('BODY_INVALID', `input '${name}' is nested deeper than ${MAX_RANK} levels`)
    dims.push(v.length)
    v = v[0]
  }
  return dims
}

/** Append `value`'s elements to `flat` in row-major order, checking that it has exactly `dims`; b64 objects become strings. */
function flattenInto(spec: TensorSpec, value: unknown, dims: readonly number[], depth: number, flat: unknown[], where: string, expected: readonly number[]): void {
  if (depth === dims.length) {
    if (Array.isArray(value)) throw ragged(spec.name, where, expected)
    flat.push(spec.datatype === 'BYTES' && isB64(value) ? Buffer.from(value.b64, 'base64').toString('utf8') : value)
    return
  }
  if (!Array.isArray(value) || value.length !== dims[depth]) throw ragged(spec.name, where, expected)
  for (const item of value) flattenInto(spec, item, dims, depth + 1, flat, where, expected)
}

function ragged(name: string, where: string, dims: readonly number[]) {
  return gatewayError('TENSOR_RAGGED', name, where === '"inputs"'
    ? `its first items make the shape [${dims.join(', ')}], which other items do not follow`
    : `${where} does not have the shape [${dims.join(', ')}] that instances[0] has`)
}

/** A JSON object standing for named inputs: any object but a {"b64": ...} value. */
function isNamedObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isB64(v)
}

function isB64(v: unknown): v is { b64: string } {
  if (typeof v !== 'object' || v === null) return false
  const keys = Object.keys(v)
  return keys.length === 1 && keys[0] === 'b64' && typeof (v as { b64: unknown }).b64 === 'string'
}

function sharedRows(feeds: readonly Feed[]): number {
  let rows: number | undefined
  for (const feed of feeds) {
    const first = feed.dims.length > 0 ? feed.dims[0] : -1
    rows = rows === undefined || rows === first ? first : -1
  }
  return rows ?? -1
}

/**
 * The answer in the request's form: rows give `predictions` (one item an instance: the one
 * output's value, or an object by output name), columns give `outputs` (the one output's
 * tensor, or an object by output name). Written by hand so that INT64 outputs keep every digit.
 */
function encodeTfAnswer(specs: readonly TensorSpec[], decoded: TfDecodedRequest, outputs: RunOutputs): string {
  return decoded.format === 'columnar' ? encodeTfColumns(specs, outputs) : encodeTfRows(specs, outputs, decoded.instances)
}

/** `{"outputs": ...}`; also how a shadow's or challenger's outputs are recorded for a TF Serving request (mirrors/mirrors.ts). */
export function encodeTfColumns(specs: readonly TensorSpec[], outputs: RunOutputs): string {
  if (specs.length === 1) return `{"outputs":${tensorJson(specs[0].name, outputs[specs[0].name])}}`
  return `{"outputs":{${specs.map((s) => `${JSON.stringify(s.name)}:${tensorJson(s.name, outputs[s.name])}`).join(',')}}}`
}

function encodeTfRows(specs: readonly TensorSpec[], outputs: RunOutputs, rows: number): string {
  for (const spec of specs) {
    const dims = outputs[spec.name].dims
    if (dims.length === 0 || dims[0] !== rows) throw gatewayError('TF_ROW_OUTPUT_UNBATCHED', spec.name, `[${dims.join(', ')}]`, rows)
  }
  const isNamed = specs.length > 1
  const items: string[] = new Array(rows)
  for (let r = 0; r < rows; r++) {
    items[r] = isNamed
      ? `{${specs.map((s) => `${JSON.stringify(s.name)}:${rowJson(s.name, outputs[s.name], r)}`).join(',')}}`
      : rowJson(specs[0].name, outputs[specs[0].name], r)
  }
  return `{"predictions":[${items.join(',')}]}`
}

function tensorJson(name: string, tensor: OutputTensor): string {
  return nestedJson(tensor, name.endsWith(BYTES_SUFFIX), 0, { at: 0 })
}

/** Row `r` of a tensor whose first dimension is the instances. */
function rowJson(name: string, tensor: OutputTensor, r: number): string {
  const rowSize = tensor.dims.slice(1).reduce((n, d) => n * d, 1)
  return nestedJson(tensor, name.endsWith(BYTES_SUFFIX), 1, { at: r * rowSize })
}

/** Dimensions from `depth` on as nested lists (a bare value past the last), reading elements from `cursor.at` on. */
function nestedJson(tensor: OutputTensor, isBytes: boolean, depth: number, cursor: { at: number }): string {
  if (depth === tensor.dims.length) return elementJson(tensor, isBytes, cursor.at++)
  const parts: string[] = new Array(tensor.dims[depth])
  for (let i = 0; i < tensor.dims[depth]; i++) parts[i] = nestedJson(tensor, isBytes, depth + 1, cursor)
  return `[${parts.join(',')}]`
}

function elementJson(tensor: OutputTensor, isBytes: boolean, i: number): string {
  const v = tensor.data[i]
  switch (tensor.type) {
    case 'string':
      return isBytes ? `{"b64":"${Buffer.from(v as string, 'utf8').toString('base64')}"}` : JSON.stringify(v)
    case 'bool':
      return v ? 'true' : 'false'
    case 'float16':
    case 'float32':
    case 'float64': {
      const n = tensor.type === 'float16' ? halfToFloat(v as number) : (v as number) // float16 comes as its bits
      return Number.isFinite(n) ? String(n) : 'null' // JSON has no NaN or Infinity (TF Serving writes them bare)
    }
    default:
      return String(v)
  }
}

export const TF_SERVING: InferenceProtocol = {
  takesBinaryData: false,
  recordKind: () => 'tf-predict',
  decoders: [parsedTensors],
  checkBody: (body) => void checkedBody(body),
  callerFields: () => null,
  // `decoded` is what this protocol's one decoder made: a TfDecodedRequest
  encodeAnswer: (version, _role, decoded, outputs) => encodeTfAnswer(version.outputs, decoded as TfDecodedRequest, outputs),
  recordedAnswer: (answer) => answer,
}
