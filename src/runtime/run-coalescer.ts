/**
 * Gathers the requests for one version that arrive in the same event-loop turn into one
 * session.run, then splits the outputs back per request (ARCHITECTURE.md: one run per
 * request reached about half the bare floor, coalesced runs 0.84 x or more).
 *
 *   turn k (poll)   : request A, request B, request C parsed  -> queue [A B C]
 *   turn k (check)  : fewer than MIN_BATCH_ROWS rows: wait a turn
 *   turn k+1 (poll) : requests D ... parsed                    -> queue [A B C D ...]
 *   turn k+1 (check): flush: feeds concatenated along dim 0   -> one session.run
 *                     outputs sliced by row offsets            -> A gets rows 0..a, ...
 *
 * A version with `batching:` in its version.yaml (Triton's dynamic batcher) is batched by
 * its own limits instead: a run starts as soon as max_batch_size rows are queued, or
 * max_queue_delay_ms after the oldest queued request came, whichever is first. That suits a
 * model whose run costs far more than a request (a CNN): waiting a little fills the batch.
 *
 * What runs a batch is the version's RunBatch: its session on this thread (inThread), or on a
 * thread of its own for a heavy model (session-thread.ts).
 *
 * Only for versions whose inputs and outputs all have a dynamic first dimension; others
 * run request by request. When a coalesced run fails or an output's first dimension is
 * not the total row count (rows were not independent after all), each request is run on
 * its own, so one request's problem never becomes another's.
 */
import ort from 'onnxruntime-node'
import type { InferenceSession } from 'onnxruntime-node'
import { joinRows, sameRowLayout, stackRows, takeOutputRows } from './rows.js'
import type { RunCallback } from './runner.js'
import type { Feed, OutputTensor, RunOutputs, TensorData } from './tensors.js'

/**
 * A turn's queue with fewer rows than this waits one more turn before it runs. Under load a
 * turn brings about 20 requests (50 connections); two turns' worth share one run: native
 * req/s +9.6 %, the request thread 27.0 -> 25.3 µs a request, p99 unchanged (6-round A/B,
 * 50 connections); one connection alone sees no difference (the next turn comes at once).
 */
const MIN_BATCH_ROWS = 32

/** Runs one batch of feeds (in the model's input order) on the version's session, wherever it lives. */
export type RunBatch = (feeds: readonly Feed[]) => Promise<RunOutputs>

interface RunJob {
  readonly feeds: readonly Feed[]
  readonly rows: number
  readonly done: RunCallback
}

/** version.yaml's `batching:`, as Triton's dynamic batcher has it. */
export interface BatchingPolicy {
  /** Most rows one run holds; a run starts as soon as this many are queued. */
  readonly maxBatchSize: number
  /** Longest the oldest queued request waits for a fuller batch. */
  readonly maxQueueDelayMs: number
}

export interface RunCoalescerOptions {
  readonly isBatchable: boolean
  readonly coalesce: boolean
  /** Most rows one coalesced run may hold. */
  readonly maxRunRows: number
  /** The version's own batching, or null for the event-loop-turn coalescing above. */
  readonly batching: BatchingPolicy | null
}

export class RunCoalescer {
  readonly #runBatch: RunBatch
  readonly #canCoalesce: boolean
  readonly #maxRunRows: number
  readonly #batching: BatchingPolicy | null
  #queue: RunJob[] = []
  #queuedRows = 0
  #isScheduled = false
  #hasWaited = false
  /** The batching delay's timer, while requests wait for a fuller batch. */
  #delayTimer: NodeJS.Timeout | null = null
  /** Counters for tests and metrics: session.run calls, and the requests they served. */
  readonly stats = { runs: 0, requests: 0 }
  /** Requests accepted and not yet answered; a removed version drains until this is 0. */
  inFlight = 0

  constructor(runBatch: RunBatch, options: RunCoalescerOptions) {
    this.#runBatch = runBatch
    this.#canCoalesce = options.coalesce && options.isBatchable
    this.#batching = options.isBatchable ? options.batching : null
    this.#maxRunRows = this.#batching === null ? options.maxRunRows : Math.min(this.#batching.maxBatchSize, options.maxRunRows)
  }

  /** Run the model on `feeds` (in the model's input order); `rows` is their shared first dimension, or -1 when they do not share one. */
  run(feeds: readonly Feed[], rows: number, done: RunCallback): void {
    this.stats.requests++
    this.inFlight++
    const job: RunJob = { feeds, rows, done }
    if (this.#batching !== null && rows > 0) return this.#batch(job)
    if (!this.#canCoalesce || rows <= 0) {
      void this.#runEachAlone([job])
      return
    }
    this.#queue.push(job)
    this.#queuedRows += rows
    if (!this.#isScheduled) {
      this.#isScheduled = true
      setImmediate(this.#flush)
    }
  }

  /** Queue a job under the version's batching policy: run when the batch is full or the oldest has waited long enough. */
  #batch(job: RunJob): void {
    this.#queue.push(job)
    this.#queuedRows += job.rows
    if (this.#queuedRows >= this.#maxRunRows) {
      this.#runQueued()
    } else if (this.#delayTimer === null) {
      this.#delayTimer = setTimeout(this.#runQueued, this.#batching!.maxQueueDelayMs)
    }
  }

  readonly #runQueued = (): void => {
    if (this.#delayTimer !== null) clearTimeout(this.#delayTimer)
    this.#delayTimer = null
    this.#queuedRows = 0
    const queue = this.#queue
    this.#queue = []
    this.#runInGroups(queue)
  }

  /** Answer one job (and count it out of the in-flight total). */
  #settle(job: RunJob, err: unknown, outputs: RunOutputs | null): void {
    this.inFlight--
    try {
      job.done(err, outputs)
    } catch (bug) {
      // a RunCallback must not throw; if one does, its own request is lost, not the others' or the process
      process.emitWarning(`a run callback threw: ${String((bug as Error)?.stack ?? bug)}`)
    }
  }

  readonly #flush = (): void => {
    // fewer rows than a good batch, first time round: wait one more event-loop turn for more
    // (idle, the next turn comes at once; under load it brings the next sockets' requests)
    if (this.#queuedRows < MIN_BATCH_ROWS && !this.#hasWaited) {
      this.#hasWaited = true
      setImmediate(this.#flush)
      return
    }
    this.#hasWaited = false
    this.#queuedRows = 0
    this.#isScheduled = false
    const queue = this.#queue
    this.#queue = []
    this.#runInGroups(queue)
  }

  /** Run `queue` in groups of at most maxRunRows rows (a request larger than that runs alone). */
  #runInGroups(queue: readonly RunJob[]): void {
    let group: RunJob[] = []
    let groupRows = 0
    for (const job of queue) {
      if (group.length > 0 && groupRows + job.rows > this.#maxRunRows) {
        void this.#runGroup(group)
        group = []
        groupRows = 0
      }
      group.push(job)
      groupRows += job.rows
    }
    if (group.length > 0) void this.#runGroup(group)
  }

  async #runGroup(group: readonly RunJob[]): Promise<void> {
    // requests encoded for this version share a layout; mirrored ones may come from versions with other inputs
    if (group.length === 1 || !group.every((job) => sameRowLayout(job.feeds, group[0].feeds))) return this.#runEachAlone(group)
    let totalRows = 0
    for (const job of group) totalRows += job.rows
    let outputs: RunOutputs
    try {
      const parts = group.map((job) => job.feeds)
      outputs = await this.#runAlone(joinRows(parts, totalRows) ?? stackRows(parts, totalRows))
    } catch {
      return this.#runEachAlone(group)
    }
    for (const name in outputs) if (outputs[name].dims[0] !== totalRows) return this.#runEachAlone(group)
    let offset = 0
    for (const job of group) {
      this.#settle(job, null, takeOutputRows(outputs, offset, job.rows))
      offset += job.rows
    }
  }

  async #runEachAlone(group: readonly RunJob[]): Promise<void> {
    for (const job of group) {
      let outputs: RunOutputs
      try {
        outputs = await this.#runAlone(job.feeds)
      } catch (err) {
        this.#settle(job, err, null)
        continue
      }
      this.#settle(job, null, outputs)
    }
  }

  #runAlone(feeds: readonly Feed[]): Promise<RunOutputs> {
    this.stats.runs++
    return this.#runBatch(feeds)
  }
}

/** A session's runs on this thread: session.run is synchronous in onnxruntime-node, so the caller's thread is busy for its length. */
export function inThread(session: InferenceSession): RunBatch {
  return (feeds) => runOnSession(session, feeds)
}

/** One run of `session` on `feeds`, outputs as the gateway keeps them (also the session thread's run). */
export async function runOnSession(session: InferenceSession, feeds: readonly Feed[]): Promise<RunOutputs> {
  const ortFeeds: Record<string, ort.Tensor> = {}
  for (const feed of feeds) ortFeeds[feed.name] = new ort.Tensor(feed.type, feed.data as never, feed.dims as number[])
  const results = await session.run(ortFeeds)
  const outputs: Record<string, OutputTensor> = {}
  for (const name of Object.keys(results)) {
    const t = results[name] as ort.Tensor
    outputs[name] = { type: t.type, data: t.data as TensorData, dims: t.dims }
  }
  return outputs
}
