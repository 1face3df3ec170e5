/**
 * A TF Serving predict record (protocols/tf-serving.ts) as the store keeps it: one record a
 * request, as for V2. Its inputs are the body's `instances` or `inputs` as sent, its outputs the
 * answer's `predictions` or `outputs`, each under its key so that the form stays readable.
 * Runs on the store worker.
 */
import { applyToFields } from './privacy.js'
import type { PrivacyRules } from './privacy.js'

export interface TfServingRecord {
  readonly inputs: Record<string, unknown> | null
  readonly outputs: Record<string, unknown> | null
  /** The one instance's outputs by name, for its label and score; null unless the request had one instance of several outputs. */
  readonly oneRow: Record<string, unknown> | null
}

export function readTfServingRecord(body: string | null, answer: string | null, privacy: PrivacyRules | undefined, hashKey: string | null): TfServingRecord {
  const request = parseObject(body)
  const given = request === null ? null : 'instances' in request ? { instances: request.instances } : { inputs: request.inputs }
  const outputs = parseObject(answer)
  return { inputs: given === null || privacy === undefined ? given : withPrivacy(given, privacy, hashKey), outputs, oneRow: oneRowOf(outputs) }
}

/**
 * The rules apply by input name, so to named inputs only: a bare value does not say which input
 * it is, and is not stored at all when the model has rules (send named inputs to keep them).
 */
function withPrivacy(given: { instances?: unknown; inputs?: unknown }, rules: PrivacyRules, key: string | null): Record<string, unknown> | null {
  if ('instances' in given) {
    const rows = given.instances as unknown[]
    return rows.every(isObject) ? { instances: rows.map((r) => applyToFields(r, rules, key)) } : null
  }
  return isObject(given.inputs) ? { inputs: applyToFields(given.inputs, rules, key) } : null
}

function oneRowOf(answer: Record<string, unknown> | null): Record<string, unknown> | null {
  const predictions = answer?.predictions
  if (Array.isArray(predictions)) return predictions.length === 1 && isObject(predictions[0]) ? predictions[0] : null
  const outputs = answer?.outputs
  if (!isObject(outputs)) return null
  const row: Record<string, unknown> = {}
  for (const [name, tensor] of Object.entries(outputs)) {
    if (!Array.isArray(tensor) || tensor.length !== 1) return null
    row[name] = tensor[0]
  }
  return row
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null
  try {
    const value: unknown = JSON.parse(text)
    return isObject(value) ? value : null
  } catch {
    return null // cannot happen for text the gateway parsed or wrote; a record without inputs beats no record
  }
}
