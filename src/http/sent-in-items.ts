/**
 * The body of POST /v1/models/{model}/inferences, read item by item on the request thread:
 * each item is checked on its own, so that a bad one is answered with its index, code and
 * message while the good ones are kept (partial acceptance, docs/inference-log.md).
 *
 *   [{"inference_id": "a-1", "timestamp": "2026-11-30T09:00:00Z", "version": "v7",
 *     "inputs": {"age": 41, ...} | [{"name", "datatype", "shape", "data"}, ...],
 *     "outputs": {"label": 1, "probability": 0.83} | [V2 tensors],   (or "prediction")
 *     "attributes": {"region": "eu"}}, ...]
 */
import { gatewayError, isGatewayError } from '../errors.js'
import { isValidInferenceId } from '../inference-id.js'
import type { SentInItem } from '../inference-log/sent-in.js'
import { attributesJson } from '../pipeline/caller-meta.js'
import { isValidName } from '../registry/names.js'
import { parseTimestamp } from '../timestamp.js'

export const MAX_SENT_IN_ITEMS = 10_000
const MAX_FIELDS = 4_096 // named inputs or outputs of one item
const MAX_TENSORS = 256 // tensors of one item
const V2_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']
const ITEM_FIELDS = ['inference_id', 'timestamp', 'version', 'inputs', 'outputs', 'prediction', 'attributes']

export interface ItemRejection {
  readonly index: number
  readonly code: string
  readonly message: string
}

export interface SentInBody {
  readonly items: SentInItem[]
  readonly rejected: ItemRejection[]
}

/**
 * Every item of the body, checked; `defaultVersion` (the `version` query parameter) serves the
 * items that name none. Throws INFERENCES_INVALID only when the body itself is wrong.
 */
export function parseSentInBody(body: unknown, defaultVersion: string | undefined, now: number): SentInBody {
  if (!Array.isArray(body)) throw gatewayError('INFERENCES_INVALID', 'must be a JSON array')
  if (body.length === 0) throw gatewayError('INFERENCES_INVALID', 'is an empty array')
  if (body.length > MAX_SENT_IN_ITEMS) throw gatewayError('INFERENCES_INVALID', `has ${body.length} items, more than ${MAX_SENT_IN_ITEMS} a call; split it`)
  const items: SentInItem[] = []
  const rejected: ItemRejection[] = []
  body.forEach((item: unknown, index) => {
    try {
      items.push(parseItem(item, index, defaultVersion, now))
    } catch (err) {
      if (!isGatewayError(err)) throw err
      rejected.push({ index, code: err.code, message: err.message })
    }
  })
  return { items, rejected }
}

const bad = (index: number, detail: string) => gatewayError('INFERENCE_ITEM_INVALID', `[${index}] ${detail}`)

function parseItem(item: unknown, index: number, defaultVersion: string | undefined, now: number): SentInItem {
  if (!isPlainObject(item)) throw bad(index, 'is not an object')
  const extra = Object.keys(item).find((k) => !ITEM_FIELDS.includes(k))
  if (extra !== undefined) throw bad(index, `has the unknown field '${extra.slice(0, 64)}'`)
  const { inference_id: id, timestamp, version, inputs, outputs, prediction, attributes } = item
  if (!isValidInferenceId(id)) throw gatewayError('INFERENCE_ID_INVALID', `[${index}].inference_id`)
  const versionName = version ?? defaultVersion
  if (versionName === undefined) throw bad(index, "names no version: give 'version', or ?version= for every item")
  if (typeof versionName !== 'string' || !isValidName(versionName)) throw gatewayError('NAME_INVALID', 'version', String(versionName).slice(0, 64))
  if (outputs !== undefined && prediction !== undefined) throw bad(index, "has both 'outputs' and 'prediction'; give one")
  return {
    index,
    inference_id: String(id),
    version: versionName,
    ts: timestamp === undefined ? now : parseTimestamp(timestamp, `[${index}].timestamp`),
    inputs: values(inputs, index, 'inputs'),
    outputs: values(outputs ?? prediction, index, outputs !== undefined ? 'outputs' : 'prediction'),
    attributes: attributes === undefined ? null : attributesJson(attributes),
  }
}

/** Named values (a flat object) or Open Inference Protocol tensors. */
function values(value: unknown, index: number, field: string): SentInItem['inputs'] {
  if (value === undefined) throw bad(index, field === 'inputs' ? "has no 'inputs'" : "has neither 'outputs' nor 'prediction'")
  if (Array.isArray(value)) return tensors(value, index, field)
  if (!isPlainObject(value)) throw bad(index, `.${field} must be an object of named values or an array of V2 tensors`)
  const entries = Object.entries(value)
  if (entries.length === 0 || entries.length > MAX_FIELDS) throw bad(index, `.${field} must have 1 to ${MAX_FIELDS} names`)
  for (const [name, v] of entries) {
    const ok = v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number' || (field !== 'inputs' && (isPlainObject(v) || Array.isArray(v)))
    if (!ok) throw bad(index, `.${field}.${name.slice(0, 64)} must be a number, a string, a boolean or null${field === 'inputs' ? '' : ' (or, among outputs, an object or an array)'}`)
  }
  return value
}

function tensors(list: unknown[], index: number, field: string): Record<string, unknown>[] {
  if (list.length === 0 || list.length > MAX_TENSORS) throw bad(index, `.${field} must have 1 to ${MAX_TENSORS} tensors`)
  const names = new Set<string>()
  list.forEach((t, k) => {
    const at = `.${field}[${k}]`
    if (!isPlainObject(t)) throw bad(index, `${at} is not a tensor object`)
    const extra = Object.keys(t).find((key) => !['name', 'datatype', 'shape', 'data', 'parameters'].includes(key))
    if (extra !== undefined) throw bad(index, `${at} has the unknown field '${extra.slice(0, 64)}'`)
    if (typeof t.name !== 'string' || t.name.length === 0) throw bad(index, `${at}.name must be a non-empty string`)
    if (names.has(t.name)) throw bad(index, `${at} repeats the tensor name '${t.name.slice(0, 64)}'`)
    names.add(t.name)
    if (typeof t.datatype !== 'string' || !V2_DATATYPES.includes(t.datatype)) throw bad(index, `${at}.datatype must be one of ${V2_DATATYPES.join(', ')}`)
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw bad(index, `${at}.shape must be an array of whole numbers`)
    if (!Array.isArray(t.data)) throw bad(index, `${at}.data must be an array`)
    const size = (t.shape as number[]).reduce((a, b) => a * b, 1)
    const flat = (t.data as unknown[]).flat(Infinity)
    if (flat.length !== size) throw bad(index, `${at}.data has ${flat.length} values; shape [${(t.shape as number[]).join(', ')}] holds ${size}`)
  })
  return list as Record<string, unknown>[]
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
