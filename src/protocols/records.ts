/**
 * The native protocol's records: JSON rows in, named predictions out, by a version's signature.
 *
 *   {"instances":[{"limit_bal":20000,"age":24,...}]}  ->  features tensor [N, F], columns in signature order
 *   {"instances":[[20000,24,...]]}                    ->  the same: a row as an array, in signature order
 *   outputs {label:[N], probability:[N]}              ->  [{"id":..,"label":1,"probability":0.83}]
 */
import { gatewayErrorWith } from '../errors.js'
import type { SwitchyardError } from '../errors.js'
import { isValidInferenceId, newInferenceId } from '../inference-id.js'
import type { Feature } from '../registry/metadata.js'
import { inputSlab } from '../runtime/signature.js'
import type { CompiledSignature } from '../runtime/signature.js'
import { elementCount } from '../runtime/tensors.js'
import type { OutputTensor, RunOutputs } from '../runtime/tensors.js'
import type { DecodedRequest } from './protocol.js'

/**
 * Turn `instances` into the version's input tensor, checking every row against the signature.
 * A row is a record of named features, or an array of their values in signature order (as
 * TF Serving's row format sends them); one request may mix both. A record may carry its own
 * `id`. Rows without one get the caller's `baseId` (X-Inference-Id): as it is for a one-row
 * request, as `<baseId>:<row>` for several; else a generated UUIDv7.
 */
export function encodeInstances(instances: unknown, sig: CompiledSignature, maxRows: number, baseId: string | null = null): DecodedRequest {
  if (!Array.isArray(instances) || instances.length === 0) {
    throw invalid(sig, "'instances' must be a non-empty array of records or of arrays in signature order, e.g. {\"instances\":[{\"feature\":1.5}]}")
  }
  const rows = instances.length
  if (rows > maxRows) throw gatewayErrorWith('BATCH_TOO_LARGE', {}, rows, maxRows)
  const features = sig.features
  const width = features.length
  const data = inputSlab(sig).take(rows * width)
  const ids: (string | number)[] = new Array(rows)
  let hasArrayRows = false
  for (let r = 0; r < rows; r++) {
    const row: unknown = instances[r]
    if (Array.isArray(row)) {
      hasArrayRows = true
      ids[r] = defaultRowId(baseId, rows, r)
      if (row.length !== width) throw gatewayErrorWith('FEATURE_COUNT_MISMATCH', { details: { expected: sig.expected } }, r, row.length, sig.featureNames)
      for (let c = 0; c < width; c++) {
        const value: unknown = row[c]
        if (!isFeatureValue(value, features[c])) throw mistyped(sig, r, features[c], value)
        data[r * width + c] = value
      }
      continue
    }
    if (typeof row !== 'object' || row === null) {
      throw invalid(sig, `instances[${r}] must be an object of feature values or an array of them in signature order, got ${describe(row)}`)
    }
    const record = row as Record<string, unknown>
    let keys = width
    const id = record.id
    if (id !== undefined) {
      if (!isValidInferenceId(id)) throw invalid(sig, `instances[${r}].id must be a string of 1 to 128 printable characters or an integer`)
      ids[r] = id
      keys++
    } else {
      ids[r] = defaultRowId(baseId, rows, r)
    }
    const base = r * width
    const ownKeys = Object.keys(record)
    // the usual record, built from the signature: its values in one pass, not a lookup by name each
    const values = id === undefined && inSignatureOrder(ownKeys, sig.featureNames) ? Object.values(record) : null
    for (let c = 0; c < width; c++) {
      const feature = features[c]
      const value = values !== null ? values[c] : record[feature.name]
      if (!isFeatureValue(value, feature)) throw featureError(sig, r, feature, record)
      data[base + c] = value
    }
    if (ownKeys.length !== keys) {
      const known = new Set(features.map((f) => f.name))
      const extra = ownKeys.find((k) => k !== 'id' && !known.has(k)) ?? ownKeys[0]
      throw gatewayErrorWith('FEATURE_UNKNOWN', { details: { expected: sig.expected } }, r, extra)
    }
  }
  const recordedBody = hasArrayRows ? Buffer.from(namedInstancesText(instances, sig)) : undefined
  return { feeds: [{ name: sig.input, type: sig.ortType, data, dims: [rows, width] }], rows, ids, outputs: null, binaryOutputs: null, recordedBody }
}

function isFeatureValue(value: unknown, feature: Feature): value is number {
  return typeof value === 'number' && Number.isFinite(value) && (feature.type !== 'integer' || Number.isInteger(value))
}

/**
 * The body the inference log keeps for rows given as arrays: `{"instances":[...]}` with each
 * array written as the record of its features by name, so that records read the same however
 * the caller sent them (the store worker, which has no signature, reads the inputs from it).
 */
export function namedInstancesText(instances: readonly unknown[], sig: CompiledSignature): string {
  let text = '{"instances":['
  for (let r = 0; r < instances.length; r++) {
    const row = instances[r]
    if (r > 0) text += ','
    text += Array.isArray(row) ? namedRowText(row as number[], 0, sig) : JSON.stringify(row)
  }
  return text + ']}'
}

/** `{"a":1.5,"n":2}`: `values[first..]`, the features of one row in signature order, as a JSON record. */
export function namedRowText(values: ArrayLike<number>, first: number, sig: CompiledSignature): string {
  let text = ''
  for (let c = 0; c < sig.featureNames.length; c++) text += sig.featureKeys[c] + String(values[first + c])
  return text + '}'
}

/** The id of row `r` of `rows` that brings none: the caller's X-Inference-Id (`<id>:<r>` for several rows), else a new UUIDv7. */
export function defaultRowId(baseId: string | null, rows: number, r: number): string {
  return baseId === null ? newInferenceId() : rows === 1 ? baseId : `${baseId}:${r}`
}

function inSignatureOrder(keys: readonly string[], names: readonly string[]): boolean {
  if (keys.length !== names.length) return false
  for (let i = 0; i < keys.length; i++) if (keys[i] !== names[i]) return false
  return true
}

/**
 * Named predictions as JSON text, one object a row, each with its inference id first:
 * `[{"id":"…","label":1,"probability":0.83}, …]`. Written by hand because this runs for
 * every request and JSON.stringify of freshly built objects cost a tenth of the hot path
 * (bench/results).
 */
export function encodePredictions(outputs: RunOutputs, sig: CompiledSignature, ids: readonly (string | number)[]): string {
  const rows = ids.length
  if (rows === 0) return '[]'
  const fields = sig.outputs
  let json = '['
  for (let r = 0; r < rows; r++) {
    const id = ids[r]
    json += (r > 0 ? '},{"id":' : '{"id":') + (typeof id === 'number' ? String(id) : JSON.stringify(id))
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f]
      const tensor = outputs[field.output]
      json += sig.outputKeys[f] + fieldJson(tensor, r, field.classes)
    }
  }
  return json + '}]'
}

/** One row's value of an output field: a scalar, an object of named classes, or an array. */
function fieldJson(tensor: OutputTensor, row: number, classes: readonly string[] | undefined): string {
  const data = tensor.data
  const isBool = tensor.type === 'bool'
  const rowSize = tensor.dims.length === 1 ? 1 : elementCount(tensor.dims) / tensor.dims[0]
  if (rowSize === 1) return scalarJson(data[row], isBool, classes)
  const first = row * rowSize
  let value = ''
  if (classes !== undefined && classes.length === rowSize) {
    for (let k = 0; k < rowSize; k++) value += (k > 0 ? ',' : '{') + `${JSON.stringify(classes[k])}:${scalarJson(data[first + k], isBool, undefined)}`
    return value + '}'
  }
  for (let k = 0; k < rowSize; k++) value += (k > 0 ? ',' : '[') + scalarJson(data[first + k], isBool, undefined)
  return value + ']'
}

function scalarJson(v: unknown, isBool: boolean, classes: readonly string[] | undefined): string {
  if (isBool) return v ? 'true' : 'false'
  if (typeof v === 'string') return JSON.stringify(v)
  if (classes !== undefined) {
    const name = classes[Number(v)]
    if (name !== undefined) return JSON.stringify(name)
  }
  if (typeof v === 'bigint') return v.toString()
  return Number.isFinite(v as number) ? String(v) : 'null' // JSON has no NaN or Infinity
}

function featureError(sig: CompiledSignature, row: number, feature: Feature, record: Record<string, unknown>): SwitchyardError {
  if (!Object.hasOwn(record, feature.name)) return gatewayErrorWith('FEATURE_MISSING', { details: { expected: sig.expected } }, row, feature.name)
  return mistyped(sig, row, feature, record[feature.name])
}

function mistyped(sig: CompiledSignature, row: number, feature: Feature, value: unknown): SwitchyardError {
  const expected = feature.type === 'integer' ? 'an integer' : 'a finite number'
  return gatewayErrorWith('FEATURE_MISTYPED', { details: { expected: sig.expected } }, row, feature.name, expected, describe(value))
}

function invalid(sig: CompiledSignature, detail: string): SwitchyardError {
  return gatewayErrorWith('BODY_INVALID', { details: { expected: sig.expected } }, detail)
}

/** A short description of a JSON value for error messages; never echoes a long string. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return value.length > 32 ? 'a string' : `the string ${JSON.stringify(value)}`
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a number too large for a float64'
  return typeof value === 'object' ? 'an object' : typeof value
}
