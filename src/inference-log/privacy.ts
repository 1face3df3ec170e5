/**
 * Per-model privacy rules (models/<model>/model.yaml `privacy:`), applied by the store worker
 * before anything is stored: `drop` removes an input field, `hash` replaces its value with a
 * keyed hash, so that records can still be grouped by the field without keeping it.
 *
 *   privacy:
 *     drop: [marriage]
 *     hash: [age]         ->  "age": "hmac-sha256:5f1c…"
 *
 * With no key (SWITCHYARD_HASH_KEY), the hash is a plain SHA-256, which can be reversed by
 * trying every value of a small domain such as an age; the gateway warns at start.
 */
import { createHash, createHmac } from 'node:crypto'
import type { ModelPool } from '../runtime/model-pool.js'

export interface PrivacyRules {
  readonly drop: readonly string[]
  readonly hash: readonly string[]
}

export type PrivacyByModel = Readonly<Record<string, PrivacyRules>>

export function hashValue(value: unknown, key: string | null): string {
  const text = JSON.stringify(value) ?? 'null'
  return key === null
    ? `sha256:${createHash('sha256').update(text).digest('hex')}`
    : `hmac-sha256:${createHmac('sha256', key).update(text).digest('hex')}`
}

/** A copy of a record of named fields with the rules applied; the record itself is not changed. */
export function applyToFields(record: Record<string, unknown>, rules: PrivacyRules, key: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(record)) {
    if (rules.drop.includes(name)) continue
    out[name] = rules.hash.includes(name) ? hashValue(value, key) : value
  }
  return out
}

/** The same for Open Inference Protocol input tensors, by tensor name: a hashed tensor keeps its shape, its data becomes one hash. */
export function applyToTensors(inputs: readonly Record<string, unknown>[], rules: PrivacyRules, key: string | null): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const tensor of inputs) {
    const name = String(tensor.name)
    if (rules.drop.includes(name)) continue
    out.push(rules.hash.includes(name) ? { ...tensor, data: hashValue(tensor.data, key) } : tensor)
  }
  return out
}

/** Every model's privacy rules, from its model.yaml. */
export function privacyOf(pool: ModelPool): PrivacyByModel {
  return Object.fromEntries(pool.models().flatMap((m) => (m.metadata?.privacy ? [[m.name, m.metadata.privacy]] : [])))
}
