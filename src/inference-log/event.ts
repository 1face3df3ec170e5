/**
 * What the request thread hands to the inference log: one event an answer. What the store
 * keeps of it, one row a record, is in store/records.ts.
 *
 * The request thread does as little as it can: it packs one InferenceEvent per answer
 * (event-codec.ts) holding the body text it already read and the answer text it already wrote.
 * The store worker turns an event into one StoredInference per row (expand.ts), applies the
 * model's privacy rules, and writes. Parsing twice off the hot path is cheaper than copying
 * parsed objects across threads on it.
 */
import type { RecordKind } from './record-context.js'
import type { InferenceRole } from '../store/records.js'

export interface InferenceEvent {
  /** 'predict': native JSON rows (`instances`/`predictions`); 'infer': Open Inference Protocol tensors. */
  readonly kind: RecordKind
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
