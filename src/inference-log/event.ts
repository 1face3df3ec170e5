/**
 * What the request thread hands to the inference log, and what the store keeps.
 *
 * The request thread does as little as it can: it packs one InferenceEvent per answer
 * (event-codec.ts) holding the body text it already read and the answer text it already wrote. The writer
 * worker turns an event into one StoredInference per row (expand.ts), applies the model's
 * privacy rules, and writes. Parsing twice off the hot path is cheaper than copying parsed
 * objects across threads on it.
 */

export type InferenceRole = 'primary' | 'shadow' | 'challenger' | 'direct'
export const INFERENCE_ROLES: readonly InferenceRole[] = ['primary', 'shadow', 'challenger', 'direct']

export interface InferenceEvent {
  /** 'predict': native JSON rows (`instances`/`predictions`); 'infer': Open Inference Protocol tensors. */
  readonly kind: 'predict' | 'infer'
  /** One inference id a row (predict) or one for the request (infer). */
  readonly ids: readonly (string | number)[]
  /** Server time of the answer, ms since the epoch. */
  readonly serverTs: number
  /** The caller's timestamp (X-Inference-Timestamp or the body's `timestamp`), ms since the epoch. */
  readonly callerTs: number | null
  readonly model: string
  readonly version: string
  /** The routes.yaml route (the model name) for routed calls, `label:<label>` for label calls, null for direct calls. */
  readonly route: string | null
  /** Why the router chose the version (split, sticky, match, pin, champion, canary-*, default). */
  readonly reason: string | null
  readonly role: InferenceRole
  /** The sticky key's 32-bit hash as 8 hex digits; never the key itself. */
  readonly stickyHash: string | null
  readonly revision: number | null
  readonly latencyMs: number
  readonly status: number
  readonly errorCode: string | null
  /** The request body as received (inputs); null when the request failed before its rows were read. */
  readonly body: string | null
  /** The answer's JSON text (predictions or outputs); null for a failed inference. */
  readonly answer: string | null
  /** The caller's attributes (region, channel, ...) as a JSON object text, or null. */
  readonly attributes: string | null
  /** The number of the event's first record (one a row) in its process: record ids are made from it (inference-id.ts recordIdOf). */
  readonly firstSeq: number
}

/** One row of the inference log, as stored. JSON columns are JSON text. */
export interface StoredInference {
  readonly record_id: string
  readonly inference_id: string
  /** The caller's timestamp if given, else the server's; ms since the epoch. */
  readonly ts: number
  readonly server_ts: number
  readonly model: string
  readonly version: string
  readonly route: string | null
  readonly reason: string | null
  readonly role: InferenceRole
  readonly sticky_hash: string | null
  readonly inputs: string | null
  readonly outputs: string | null
  readonly latency_ms: number
  readonly status: number
  readonly error_code: string | null
  readonly revision: number | null
  readonly attributes: string | null
  /** The predicted class (outputs.label), as text; null when the outputs have none. */
  readonly predicted_label: string | null
  /** The score the comparisons use: a binary classifier's probability, a regressor's value. */
  readonly score: number | null
}

export interface GroundTruthItem {
  readonly inference_id: string
  /** A class label (classification), as text. */
  readonly label: string | null
  /** A numeric target (regression). */
  readonly value: number | null
  /** When the truth became known, ms since the epoch (the caller's, else the server's). */
  readonly ts: number
}

export interface GroundTruthOutcome {
  /** Ids joined to at least one inference record. */
  readonly joined: number
  /** Inference records (primary, shadows, challengers) those ids joined. */
  readonly records: number
  /** Ids with no inference record of this model: nothing was stored for them. */
  readonly unknown_ids: readonly string[]
}

export interface InferenceFilter {
  readonly model: string
  readonly version?: string
  readonly role?: InferenceRole
  /** ms since the epoch, inclusive. */
  readonly since?: number
  /** ms since the epoch, exclusive. */
  readonly until?: number
  readonly hasGroundTruth?: boolean
}

export interface InferenceQuery extends InferenceFilter {
  readonly limit: number
  readonly order: 'asc' | 'desc'
  /** Where the previous page ended: its last (ts, record_id). */
  readonly after?: { readonly ts: number; readonly recordId: string }
}

/** A stored record with its ground truth, as the query API and export give it. */
export interface InferenceRecord {
  readonly record_id: string
  readonly inference_id: string
  readonly timestamp: string
  readonly server_timestamp: string
  readonly model: string
  readonly version: string
  readonly route: string | null
  readonly reason: string | null
  readonly role: InferenceRole
  readonly sticky_hash: string | null
  readonly inputs: unknown
  readonly outputs: unknown
  readonly latency_ms: number
  readonly status: number
  readonly error_code: string | null
  readonly revision: number | null
  readonly attributes: unknown
  readonly ground_truth: { label: string | null; value: number | null; timestamp: string } | null
}
