/**
 * What the store keeps and is queried by: the inference log's rows as stored (one a row of a
 * request, written by the store worker), ground truth beside them, and the filters and pages
 * the query API and export read them back with.
 */

/** `external`: sent in by the caller (POST /v1/models/{model}/inferences), made by a server or a batch job elsewhere. */
export type InferenceRole = 'primary' | 'shadow' | 'challenger' | 'direct' | 'external'
export const INFERENCE_ROLES: readonly InferenceRole[] = ['primary', 'shadow', 'challenger', 'direct', 'external']

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
