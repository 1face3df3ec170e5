import type { Feed, RunOutputs } from './tensors.js'

/**
 * Called once a run is over: with its outputs, or with what stopped it. A callback rather
 * than a promise, because the request path pays for every promise it makes (a coalesced run
 * answers twenty requests or more).
 */
export type RunCallback = (err: unknown, outputs: RunOutputs | null) => void

/** What runs a version: a local session's coalescer or a remote upstream. */
export interface Runner {
  /** Run on `feeds` (in the model's input order); `rows` is their shared first dimension, or -1. */
  run(feeds: readonly Feed[], rows: number, done: RunCallback): void
  /** Runs accepted and not yet answered; a removed version drains until this is 0. */
  readonly inFlight: number
  /** session.run calls (or upstream calls), and the requests they served. */
  readonly stats: { readonly runs: number; readonly requests: number }
}

/** A runner's run as a promise, for callers off the request path (the mirror worker, tests). */
export function runAsPromise(runner: Runner, feeds: readonly Feed[], rows: number): Promise<RunOutputs> {
  return new Promise((resolve, reject) => runner.run(feeds, rows, (err, outputs) => (outputs === null ? reject(err) : resolve(outputs))))
}
