/**
 * What a request's records share, built once on the request thread and reused for the
 * primary's record and for each shadow's or challenger's (router/mirrors.ts).
 */
export interface RecordContext {
  readonly kind: 'predict' | 'infer'
  readonly ids: readonly (string | number)[]
  /** The request body text: the inputs. */
  readonly body: string
  readonly callerTs: number | null
  readonly attributes: string | null
  readonly route: string | null
  readonly reason: string | null
  readonly stickyHash: string | null
  readonly revision: number | null
}

export function stickyHashText(hash: number | undefined): string | null {
  return hash === undefined ? null : hash.toString(16).padStart(8, '0')
}
