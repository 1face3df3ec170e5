/**
 * Turning one InferenceEvent (a request, as the request thread enqueued it) into the rows
 * the store keeps: one a row of a native request, one for an Open Inference Protocol or a TF
 * Serving request. Runs on the store worker.
 */
import { recordIdOf } from '../inference-id.js'
import type { StoredInference } from '../store/records.js'
import type { InferenceEvent } from './event.js'
import { tensorsWithData } from './binary-record.js'
import { applyToFields, applyToTensors } from './privacy.js'
import type { PrivacyRules } from './privacy.js'
import { readTfServingRecord } from './tf-serving-record.js'

export interface ExpandContext {
  readonly privacy: PrivacyRules | undefined
  readonly hashKey: string | null
  /** The boot id of the process that made the event: with the event's numbering, its records' ids. */
  readonly bootId: string
}

export function expandEvent(e: InferenceEvent, ctx: ExpandContext): StoredInference[] {
  const row = (r: number, id: string | number, inputs: string | null, outputs: string | null, label: string | null, score: number | null) =>
    storedRow(e, recordIdOf(e.serverTs, e.firstSeq + r, ctx.bootId), id, inputs, outputs, label, score)
  if (e.kind === 'infer' || e.kind === 'infer-binary') {
    const isBinary = e.kind === 'infer-binary'
    const tensors = isBinary ? (e.body === null ? null : tensorsWithData(e.body, 'inputs')) : tensorList(parseObject(e.body), 'inputs')
    const outputs = isBinary ? (e.answer === null ? null : tensorsWithData(e.answer, 'outputs')) : tensorList(parseObject(e.answer), 'outputs')
    const inputs = tensors === null ? null : ctx.privacy === undefined ? tensors : applyToTensors(tensors, ctx.privacy, ctx.hashKey)
    return [row(0, e.ids[0], json(inputs), json(outputs), tensorLabel(outputs), tensorScore(outputs))]
  }
  if (e.kind === 'tf-predict') {
    const tf = readTfServingRecord(e.body, e.answer, ctx.privacy, ctx.hashKey)
    return [row(0, e.ids[0], json(tf.inputs), json(tf.outputs), namedLabel(tf.oneRow), namedScore(tf.oneRow))]
  }
  const asSent = e.ids.length === 1 && ctx.privacy === undefined ? oneInstanceText(e.body) : null
  const outputsText = asSent === null ? null : onePredictionText(e.answer)
  if (asSent !== null && outputsText !== null) {
    const outputs = parseObject(outputsText)
    return [row(0, e.ids[0], asSent, outputsText, namedLabel(outputs), namedScore(outputs))]
  }
  const answer = parseObject(e.answer)
  const predictions = Array.isArray(answer?.predictions) ? (answer.predictions as unknown[]) : []
  if (asSent !== null) {
    const outputs = withoutId(predictions[0])
    return [row(0, e.ids[0], asSent, json(outputs), namedLabel(outputs), namedScore(outputs))]
  }
  const body = parseObject(e.body)
  const instances = Array.isArray(body?.instances) ? (body.instances as unknown[]) : []
  const rows: StoredInference[] = []
  for (let r = 0; r < e.ids.length; r++) {
    const outputs = withoutId(predictions[r])
    rows.push(row(r, e.ids[r], json(rowInputs(instances[r], ctx)), json(outputs), namedLabel(outputs), namedScore(outputs)))
  }
  return rows
}

/**
 * The usual native request, `{"instances":[{...}]}` with one flat record and nothing else, as
 * clients send it: the record's own text is its inputs, with no parse and stringify here
 * (they were most of the cost of a row). Null for any other body, and for a record that may
 * hold an `id` (spelled out, or with escapes): those take the parsing path.
 */
const ONE_FLAT_INSTANCE = /^\{"instances":\[(\{[^{}[\]\\]*\})\]\}$/

function oneInstanceText(body: string | null): string | null {
  const match = body === null ? null : ONE_FLAT_INSTANCE.exec(body)
  if (match === null || match[1].includes('"id"')) return null
  return match[1]
}

/**
 * The outputs of a one-row native answer as written (protocols/records.ts encodePredictions), without
 * the id it starts with: `{…,"predictions":[{"id":ID,REST}]}` gives `{REST}`, with no parse
 * and stringify. Null when the answer is not of that shape (a failure, several rows).
 */
function onePredictionText(answer: string | null): string | null {
  if (answer === null || !answer.endsWith('}]}')) return null
  const open = answer.indexOf('"predictions":[{"id":')
  if (open === -1) return null
  let at = open + '"predictions":[{"id":'.length
  if (answer.charCodeAt(at) === 0x22) { // a string id: to its closing quote, past escapes
    at++
    while (at < answer.length && answer.charCodeAt(at) !== 0x22) at += answer.charCodeAt(at) === 0x5c ? 2 : 1
    at++
  } else {
    while (at < answer.length && /[-0-9]/.test(answer[at])) at++
  }
  if (answer.charCodeAt(at) !== 0x2c) return null // an id and nothing else
  return '{' + answer.slice(at + 1, answer.length - 2)
}

function json(value: unknown): string | null {
  return value == null ? null : JSON.stringify(value)
}

function storedRow(e: InferenceEvent, recordId: string, id: string | number, inputs: string | null, outputs: string | null, predictedLabel: string | null, score: number | null): StoredInference {
  return {
    record_id: recordId,
    inference_id: String(id),
    ts: e.callerTs ?? e.serverTs,
    server_ts: e.serverTs,
    model: e.model,
    version: e.version,
    route: e.route,
    reason: e.reason,
    role: e.role,
    sticky_hash: e.stickyHash,
    inputs,
    outputs,
    latency_ms: e.latencyMs,
    status: e.status,
    error_code: e.errorCode,
    revision: e.revision,
    attributes: e.attributes,
    predicted_label: predictedLabel,
    score,
  }
}

const SCORE_FIELDS = ['probability', 'score', 'value', 'prediction'] // in this order

/** A native prediction's class: its `label` field. */
export function namedLabel(outputs: Record<string, unknown> | null): string | null {
  const label = outputs?.label
  return typeof label === 'string' || typeof label === 'number' || typeof label === 'boolean' ? String(label) : null
}

/**
 * The score comparisons use: `probability` (a binary classifier), `score`, `value` or
 * `prediction` (a regressor), else the predicted class's entry of `probabilities`.
 */
export function namedScore(outputs: Record<string, unknown> | null): number | null {
  if (outputs === null) return null
  for (const field of SCORE_FIELDS) {
    const v = outputs[field]
    if (typeof v === 'number' && Number.isFinite(v)) return v
  }
  const probabilities = outputs.probabilities
  const label = namedLabel(outputs)
  if (label !== null && typeof probabilities === 'object' && probabilities !== null) {
    const v = (probabilities as Record<string, unknown>)[label]
    if (typeof v === 'number') return v
  }
  return null
}

/** The same for a one-row V2 answer: the `label` tensor's and the score tensor's single element. */
export function tensorLabel(outputs: Record<string, unknown>[] | null): string | null {
  const v = single(outputs, 'label')
  return v === null ? null : String(v)
}

export function tensorScore(outputs: Record<string, unknown>[] | null): number | null {
  for (const field of SCORE_FIELDS) {
    const v = single(outputs, field)
    if (typeof v === 'number' && Number.isFinite(v)) return v
  }
  return null
}

function single(outputs: Record<string, unknown>[] | null, name: string): unknown {
  const tensor = outputs?.find((t) => t.name === name)
  const data = tensor?.data
  if (!Array.isArray(data) || data.length !== 1) return null
  const v: unknown = Array.isArray(data[0]) ? (data[0] as unknown[])[0] : data[0]
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : null
}

/** A native row's inputs: its features, without the `id` it may carry, after the privacy rules. */
function rowInputs(instance: unknown, ctx: ExpandContext): Record<string, unknown> | null {
  const features = withoutId(instance)
  if (features === null) return null
  return ctx.privacy === undefined ? features : applyToFields(features, ctx.privacy, ctx.hashKey)
}

/** The record without its `id` key; the record itself when it has none (the usual native row: no copy). */
function withoutId(value: unknown): Record<string, unknown> | null {
  if (typeof value !== 'object' || value === null) return null
  const record = value as Record<string, unknown>
  if (!Object.hasOwn(record, 'id')) return record
  const rest: Record<string, unknown> = {}
  for (const key in record) if (key !== 'id') rest[key] = record[key]
  return rest
}

function parseObject(text: string | null): Record<string, any> | null {
  if (text === null) return null
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null ? (value as Record<string, any>) : null
  } catch {
    return null // cannot happen for text the gateway parsed or wrote; a record without inputs beats no record
  }
}

function tensorList(value: Record<string, unknown> | null, key: 'inputs' | 'outputs'): Record<string, unknown>[] | null {
  return Array.isArray(value?.[key]) ? (value[key] as Record<string, unknown>[]) : null
}
