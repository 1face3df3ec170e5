/**
 * What a request's records share, built once on the request thread and reused for the
 * primary's record and for each shadow's or challenger's (mirrors/mirrors.ts).
 */
/** How the store worker reads a record's body and answer: a native JSON body, or a V2 JSON one. */
export type RecordKind = 'predict' | 'infer'

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
