/**
 * Turning one InferenceEvent (a request, as the request thread enqueued it) into the rows
 * the store keeps: one a row of a native request, one for an Open Inference Protocol
 * request. Runs on the writer worker.
 */
import { newInferenceId } from './inference-id.js'
import type { InferenceEvent, StoredInference } from './event.js'
import { applyToFields, applyToTensors } from './privacy.js'
import type { PrivacyRules } from './privacy.js'

export interface ExpandContext {
  readonly privacy: PrivacyRules | undefined
  readonly hashKey: string | null
}

export function expandEvent(e: InferenceEvent, ctx: ExpandContext): StoredInference[] {
  const body = parseObject(e.body)
  const answer = parseObject(e.answer)
  const rows: StoredInference[] = []
  if (e.kind === 'predict') {
    const instances = Array.isArray(body?.instances) ? (body.instances as unknown[]) : []
    const predictions = Array.isArray(answer?.predictions) ? (answer.predictions as unknown[]) : []
    for (let r = 0; r < e.ids.length; r++) {
      rows.push(row(e, e.ids[r], rowInputs(instances[r], ctx), withoutId(predictions[r])))
    }
  } else {
    const tensors = Array.isArray(body?.inputs) ? (body.inputs as Record<string, unknown>[]) : null
    const inputs = tensors === null ? null : ctx.privacy === undefined ? tensors : applyToTensors(tensors, ctx.privacy, ctx.hashKey)
    rows.push(row(e, e.ids[0], inputs, answer?.outputs ?? null))
  }
  return rows
}

function row(e: InferenceEvent, id: string | number, inputs: unknown, outputs: unknown): StoredInference {
  return {
    record_id: newInferenceId(),
    inference_id: String(id),
    ts: e.callerTs ?? e.serverTs,
    server_ts: e.serverTs,
    model: e.model,
    version: e.version,
    route: e.route,
    reason: e.reason,
    role: e.role,
    sticky_hash: e.stickyHash,
    inputs: inputs == null ? null : JSON.stringify(inputs),
    outputs: outputs == null ? null : JSON.stringify(outputs),
    latency_ms: e.latencyMs,
    status: e.status,
    error_code: e.errorCode,
    revision: e.revision,
    attributes: e.attributes,
  }
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
