/**
 * Where shadow and challenger runs happen, with a bounded number in flight: on the mirror
 * worker, or on the request thread's own coalescer of the mirror version (runInline, for
 * versions whose runs are cheap: see mirrors.ts). Above the bound a mirror is dropped and
 * counted, never queued without limit and never allowed to slow the primary (Envoy/Istio
 * mirror policy).
 */
import type { Worker } from 'node:worker_threads'
import type { Runner } from '../runtime/runner.js'
import type { RunOutputs } from '../runtime/tensors.js'
import type { Feed } from '../runtime/tensors.js'
import type { Logger } from '../log.js'
import { IdleThread } from '../threads/thread-priority.js'
import { startWorker } from '../threads/worker-entry.js'
import { RowStack, sameRowLayout, takeOutputRows } from '../runtime/rows.js'
import { BATCH_MS } from './mirror-protocol.js'
import type { FromMirrorWorker, MirrorBatch, MirrorTarget, ToMirrorWorker } from './mirror-protocol.js'

const STARVATION_CHECK_MS = 250
const STARVED_MS = 1_000 // how long the oldest mirror may wait for a free core before the worker is hurried...
const REQUEST_THREAD_BUSY = 0.5 // ...unless the request thread's event loop was busier than this meanwhile

/** Called once with the mirror's outputs and how long its run took, or with why it failed. */
export type MirrorCallback = (err: Error | null, outputs: RunOutputs | null, ms: number) => void

/** Jobs for one target whose inputs stack: their rows are copied in at once (RowStack). */
interface StackedGroup {
  readonly target: MirrorTarget
  readonly ids: number[]
  readonly rows: number[]
  /** Names, types and row shapes of the inputs (the first job's, without its data). */
  readonly layout: readonly Pick<Feed, 'name' | 'type' | 'dims'>[]
  readonly stacks: readonly RowStack[]
}

/** A job that does not stack with the others (no shared first dimension, or another layout). */
interface LooseJob {
  readonly target: MirrorTarget
  readonly id: number
  readonly rows: number
  readonly feeds: readonly Feed[]
}

export class MirrorRunner {
  #worker: Worker | null = null
  readonly #pending = new Map<number, { done: MirrorCallback; at: number }>()
  /** The worker's thread, once it said how it lowered its priority. */
  #priority: IdleThread | null = null
  #starvationCheck: NodeJS.Timeout | null = null
  #elu = performance.eventLoopUtilization()
  /** The stop has begun (settle): the worker stays hurried. */
  #isSettling = false
  readonly #maxInFlight: number
  #nextId = 1
  /** Jobs of the last BATCH_MS, posted together: those that stack, a group a target (its first job's row layout)... */
  readonly #outbox = new Map<MirrorTarget, StackedGroup>()
  /** ...and those that do not. */
  #loose: LooseJob[] = []
  #sendTimer: NodeJS.Timeout | null = null
  readonly #log: Logger
  /** Mirrors refused because too many were in flight. */
  dropped = 0
  /** Mirrors running on the request thread's coalescers. */
  #inline = 0

  constructor(maxInFlight: number, log: Logger) {
    this.#maxInFlight = maxInFlight
    this.#log = log
  }

  /**
   * The mirror worker runs when a core is free, so that mirrors never take the primary's time.
   * But when something else keeps the cores busy, a free core may not come for as long as that
   * lasts, and every mirror waits and is dropped at the bound. So: when the oldest mirror has
   * waited STARVED_MS while the request thread was mostly idle (it is not the one keeping the
   * cores busy), the worker runs at normal priority until no mirror is waiting.
   */
  readonly #checkStarvation = (): void => {
    const elu = performance.eventLoopUtilization(this.#elu)
    this.#elu = performance.eventLoopUtilization()
    const oldest = this.#pending.values().next().value
    if (oldest === undefined) {
      if (!this.#isSettling) this.#priority?.relax()
      if (this.#starvationCheck !== null) clearInterval(this.#starvationCheck)
      this.#starvationCheck = null
      return
    }
    const waited = performance.now() - oldest.at
    if (waited > STARVED_MS && elu.utilization < REQUEST_THREAD_BUSY) this.#priority?.hurry()
    // under steady mirroring something is always pending: relax once mirrors no longer wait
    // long, or as soon as the request thread is the busy one
    else if (!this.#isSettling && (waited < STARVED_MS / 2 || elu.utilization >= REQUEST_THREAD_BUSY)) this.#priority?.relax()
  }

  /** Started on the first mirror: a gateway without shadows or challengers never pays for it. */
  #started(): Worker {
    if (this.#worker !== null) return this.#worker
    const worker = startWorker('./mirror-worker', import.meta.url)
    worker.unref() // never keeps the process alive on its own
    worker.on('message', (m: FromMirrorWorker) => this.#onMessage(m))
    worker.on('error', (err) => {
      const pending = [...this.#pending.values()]
      this.#pending.clear()
      for (const { done } of pending) done(err, null, 0)
      this.#worker = null // the next mirror starts a fresh one
      this.#priority = null
    })
    this.#worker = worker
    return worker
  }

  get inFlight(): number {
    return this.#pending.size + this.#inline
  }

  /**
   * Run on `runner`, the request thread's coalescer of the mirror version: the mirror joins
   * the version's next run (a later event-loop turn than the answer it mirrors). False when
   * the bound is reached (dropped and counted, `done` never called).
   */
  runInline(runner: Runner, feeds: readonly Feed[], rows: number, done: MirrorCallback): boolean {
    if (this.#isFull()) return false
    this.#inline++
    const started = performance.now()
    runner.run(feeds, rows, (err, outputs) => {
      this.#inline--
      done(outputs === null ? (err instanceof Error ? err : new Error(String(err))) : null, outputs, performance.now() - started)
    })
    return true
  }

  /** Run on the worker and call `done`; false when the bound is reached (the mirror is dropped and counted, `done` never called). */
  run(target: MirrorTarget, feeds: readonly Feed[], rows: number, done: MirrorCallback): boolean {
    if (this.#isFull()) return false
    const id = this.#nextId++
    this.#pending.set(id, { done, at: performance.now() })
    this.#starvationCheck ??= setInterval(this.#checkStarvation, STARVATION_CHECK_MS).unref()
    if (this.#outbox.size === 0 && this.#loose.length === 0) this.#sendTimer = setTimeout(this.#sendJobs, BATCH_MS)
    let group = this.#outbox.get(target)
    if (rows <= 0 || (group !== undefined && !sameRowLayout(group.layout, feeds))) {
      this.#loose.push({ target, id, rows, feeds })
      return true
    }
    if (group === undefined) {
      group = { target, ids: [], rows: [], layout: feeds.map((f) => ({ name: f.name, type: f.type, dims: f.dims })), stacks: feeds.map((f) => new RowStack(f)) }
      this.#outbox.set(target, group)
    }
    group.ids.push(id)
    group.rows.push(rows)
    for (let i = 0; i < feeds.length; i++) group.stacks[i].push(feeds[i], rows)
    return true
  }

  readonly #sendJobs = (): void => {
    this.#sendTimer = null
    const batches: MirrorBatch[] = []
    const transfer: ArrayBuffer[] = []
    for (const group of this.#outbox.values()) {
      const feeds = group.stacks.map((stack) => stack.take())
      for (const f of feeds) if (!Array.isArray(f.data)) transfer.push(f.data.buffer as ArrayBuffer)
      batches.push({ target: group.target, ids: group.ids, rows: group.rows, feeds })
    }
    // a loose job's feeds are copied and the copies transferred: they are the primary's, views of a
    // slab the next requests use (feed-slab.ts), which a clone would copy whole
    for (const job of this.#loose) {
      const feeds = job.feeds.map((f) => ({ ...f, data: f.data.slice() }))
      for (const f of feeds) if (!Array.isArray(f.data)) transfer.push(f.data.buffer as ArrayBuffer)
      batches.push({ target: job.target, ids: [job.id], rows: [job.rows], feeds })
    }
    this.#outbox.clear()
    this.#loose = []
    this.#started().postMessage({ code: 'RUN', batches } satisfies ToMirrorWorker, transfer)
  }

  #isFull(): boolean {
    if (this.inFlight < this.#maxInFlight) return false
    this.dropped++
    return true
  }

  #onMessage(m: FromMirrorWorker): void {
    if (m.code === 'PRIORITY') {
      this.#priority = new IdleThread(m.lowered, 'mirror worker', this.#log)
      return
    }
    if (m.code !== 'OUTCOMES') throw new Error(`unexpected message from the mirror worker: ${JSON.stringify(m)}`)
    for (const group of m.groups) {
      let firstRow = 0
      for (let i = 0; i < group.ids.length; i++) {
        const rows = group.rows[i]
        const outputs = rows < 0 ? group.outputs : takeOutputRows(group.outputs, firstRow, rows)
        this.#take(group.ids[i])?.(null, outputs, group.ms[i])
        if (rows > 0) firstRow += rows
      }
    }
    for (const failure of m.failures) this.#take(failure.id)?.(new Error(failure.message), null, 0)
  }

  #take(id: number): MirrorCallback | undefined {
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    return pending?.done
  }

  /** Resolves when no mirror is in flight, or after `timeoutMs` (at stop, so that finished mirrors are recorded). */
  async settle(timeoutMs: number): Promise<void> {
    this.#isSettling = true
    this.#priority?.hurry() // the stop: no primary is left to protect
    const deadline = Date.now() + timeoutMs
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  async close(): Promise<void> {
    if (this.#sendTimer !== null) clearTimeout(this.#sendTimer) // no new worker for jobs that will not run
    this.#sendTimer = null
    this.#outbox.clear()
    this.#loose = []
    if (this.#starvationCheck !== null) clearInterval(this.#starvationCheck)
    this.#starvationCheck = null
    this.#priority = null // its thread ends below; a mirror after close() starts a new worker, which reports its own
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const { done } of pending) done(new Error('the gateway is stopping'), null, 0)
    await this.#worker?.terminate()
    this.#worker = null
  }
}
