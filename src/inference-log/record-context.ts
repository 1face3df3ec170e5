/**
 * What a request's records share, built once on the request thread and reused for the
 * primary's record and for each shadow's or challenger's (mirrors/mirrors.ts).
 */
/**
 * How the store worker reads a record's body and answer: a native JSON body, a V2 JSON one, a
 * V2 one with binary tensor data after its JSON header (in the body, the answer, or both), or a
 * TF Serving predict body. A kind's index is what a record stores: append, never reorder.
 */
export const RECORD_KINDS = ['predict', 'infer', 'infer-binary', 'tf-predict'] as const
export type RecordKind = (typeof RECORD_KINDS)[number]
/** Kinds whose body and answer are bytes, not text: the worker gets them as latin1 strings, a byte a character. */
export const BINARY_RECORD_KINDS: ReadonlySet<RecordKind> = new Set(['infer-binary'])

export interface RecordContext {
  readonly kind: RecordKind
  readonly ids: readonly (string | number)[]
  /** The request body: the inputs, as the UTF-8 bytes that came. */
  readonly body: Buffer
  readonly callerTs: number | null
  readonly attributes: string | null
  readonly route: string | null
  readonly reason: string | null
  /** The sticky key's 32-bit hash (stored as 8 hex digits; never the key). */
  readonly stickyHash: number | null
  readonly revision: number | null
}
