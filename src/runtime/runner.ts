import type { Feed, RunOutputs } from './tensors.js'

/** What runs a version: a local session's coalescer or a remote upstream. */
export interface Runner {
  /** Run on `feeds` (in the model's input order); `rows` is their shared first dimension, or -1. */
  run(feeds: readonly Feed[], rows: number): Promise<RunOutputs>
  /** Runs accepted and not yet answered; a removed version drains until this is 0. */
  readonly inFlight: number
  /** session.run calls (or upstream calls), and the requests they served. */
  readonly stats: { readonly runs: number; readonly requests: number }
}
