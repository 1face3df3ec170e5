/**
 * Main-thread side of mirroring: hands shadow and challenger runs to the mirror worker with
 * a bounded number in flight. Above the bound a mirror is dropped and counted, never queued
 * without limit and never allowed to slow the primary (Envoy/Istio mirror policy).
 */
import type { Worker } from 'node:worker_threads'
import type { RunOutputs } from '../runtime/tensors.js'
import type { Feed } from '../runtime/tensors.js'
import { startWorker } from '../worker-entry.js'
import { sameRowLayout, stackRows, takeOutputRows } from '../runtime/rows.js'
import { BATCH_MS } from './mirror-protocol.js'
import type { FromMirrorWorker, MirrorBatch, MirrorTarget, ToMirrorWorker } from './mirror-protocol.js'

/** Called once with the mirror's outputs and how long its run took, or with why it failed. */
export type MirrorCallback = (err: Error | null, outputs: RunOutputs | null, ms: number) => void

interface OutboxGroup {
  readonly target: MirrorTarget
  readonly ids: number[]
  readonly rows: number[]
  readonly feeds: (readonly Feed[])[]
}

export class MirrorRunner {
  #worker: Worker | null = null
  readonly #pending = new Map<number, MirrorCallback>()
  readonly #maxInFlight: number
  #nextId = 1
  /** Jobs of the last BATCH_MS, posted together: those that stack, a group a target (its first job's row layout)... */
  readonly #outbox = new Map<MirrorTarget, OutboxGroup>()
  /** ...and those that do not (no shared first dimension, or another layout), a group each. */
  #loose: OutboxGroup[] = []
  #sendTimer: NodeJS.Timeout | null = null
  /** Mirrors refused because too many were in flight. */
  dropped = 0

  constructor(maxInFlight: number) {
    this.#maxInFlight = maxInFlight
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
      for (const done of pending) done(err, null, 0)
      this.#worker = null // the next mirror starts a fresh one
    })
    this.#worker = worker
    return worker
  }

  get inFlight(): number {
    return this.#pending.size
  }

  /** Run on the worker and call `done`; false when the bound is reached (the mirror is dropped and counted, `done` never called). */
  run(target: MirrorTarget, feeds: readonly Feed[], rows: number, done: MirrorCallback): boolean {
    if (this.#isFull()) return false
    const id = this.#nextId++
    this.#pending.set(id, done)
    if (this.#outbox.size === 0 && this.#loose.length === 0) this.#sendTimer = setTimeout(this.#sendJobs, BATCH_MS)
    let group = this.#outbox.get(target)
    if (rows <= 0 || (group !== undefined && !sameRowLayout(group.feeds[0], feeds))) {
      this.#loose.push({ target, ids: [id], rows: [rows], feeds: [feeds] })
      return true
    }
    if (group === undefined) {
      group = { target, ids: [], rows: [], feeds: [] }
      this.#outbox.set(target, group)
    }
    group.ids.push(id)
    group.rows.push(rows)
    group.feeds.push(feeds)
    return true
  }

  readonly #sendJobs = (): void => {
    this.#sendTimer = null
    const batches: MirrorBatch[] = []
    const transfer: ArrayBuffer[] = []
    for (const group of [...this.#outbox.values(), ...this.#loose]) {
      if (group.ids.length === 1) {
        // one job: its feeds are cloned (they are the primary's, still shared with other mirrors)
        batches.push({ target: group.target, ids: group.ids, rows: group.rows, feeds: group.feeds[0] as Feed[] })
        continue
      }
      const feeds = stackRows(group.feeds, group.rows.reduce((n, r) => n + r, 0))
      for (const f of feeds) if (!Array.isArray(f.data)) transfer.push(f.data.buffer as ArrayBuffer)
      batches.push({ target: group.target, ids: group.ids, rows: group.rows, feeds })
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
    if (m.code !== 'OUTCOMES') throw new Error(`mirror runner: unexpected message ${JSON.stringify(m)}`)
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
    return pending
  }

  /** Resolves when no mirror is in flight, or after `timeoutMs` (at stop, so that finished mirrors are recorded). */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while ((this.#pending.size > 0 || this.#outbox.size > 0 || this.#loose.length > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  async close(): Promise<void> {
    if (this.#sendTimer !== null) clearTimeout(this.#sendTimer) // no new worker for jobs that will not run
    this.#sendTimer = null
    this.#outbox.clear()
    this.#loose = []
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const done of pending) done(new Error('the gateway is stopping'), null, 0)
    await this.#worker?.terminate()
    this.#worker = null
  }
}
