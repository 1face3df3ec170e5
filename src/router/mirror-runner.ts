/**
 * Main-thread side of mirroring: hands shadow and challenger runs to the mirror worker with
 * a bounded number in flight. Above the bound a mirror is dropped and counted, never queued
 * without limit and never allowed to slow the primary (Envoy/Istio mirror policy).
 */
import type { Worker } from 'node:worker_threads'
import type { RunOutputs } from '../runtime/tensors.js'
import type { Feed } from '../runtime/tensors.js'
import { startWorker } from '../worker-entry.js'
import { rowLayout, stackRows, takeOutputRows } from '../runtime/rows.js'
import { BATCH_MS } from './mirror-protocol.js'
import type { FromMirrorWorker, MirrorBatch, MirrorTarget, ToMirrorWorker } from './mirror-protocol.js'

export interface MirrorResult {
  readonly outputs: RunOutputs
  readonly ms: number
}

interface OutboxGroup {
  readonly target: MirrorTarget
  readonly ids: number[]
  readonly rows: number[]
  readonly feeds: (readonly Feed[])[]
}

interface Pending {
  resolve(r: MirrorResult): void
  reject(e: Error): void
}

export class MirrorRunner {
  #worker: Worker | null = null
  readonly #pending = new Map<number, Pending>()
  readonly #maxInFlight: number
  #nextId = 1
  /** Jobs of the last BATCH_MS, posted together: by target and row layout. */
  #outbox = new Map<string, OutboxGroup>()
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
      for (const p of this.#pending.values()) p.reject(err)
      this.#pending.clear()
      this.#worker = null // the next mirror starts a fresh one
    })
    this.#worker = worker
    return worker
  }

  get inFlight(): number {
    return this.#pending.size
  }

  /** Run on the worker; null when the bound is reached (the mirror is dropped and counted). */
  run(target: MirrorTarget, feeds: readonly Feed[], rows: number): Promise<MirrorResult> | null {
    if (this.#isFull()) return null
    const id = this.#nextId++
    return new Promise<MirrorResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (this.#outbox.size === 0) this.#sendTimer = setTimeout(this.#sendJobs, BATCH_MS)
      // jobs that cannot be stacked (no shared first dimension) each get a group of their own
      const key = rows > 0 ? `${target.key}\u0000${rowLayout(feeds)}` : `${target.key}\u0000#${id}`
      let group = this.#outbox.get(key)
      if (group === undefined) {
        group = { target, ids: [], rows: [], feeds: [] }
        this.#outbox.set(key, group)
      }
      group.ids.push(id)
      group.rows.push(rows)
      group.feeds.push(feeds)
    })
  }

  readonly #sendJobs = (): void => {
    this.#sendTimer = null
    const batches: MirrorBatch[] = []
    const transfer: ArrayBuffer[] = []
    for (const group of this.#outbox.values()) {
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
        this.#take(group.ids[i])?.resolve({ outputs, ms: group.ms[i] })
        if (rows > 0) firstRow += rows
      }
    }
    for (const failure of m.failures) this.#take(failure.id)?.reject(new Error(failure.message))
  }

  #take(id: number): Pending | undefined {
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    return pending
  }

  /** Resolves when no mirror is in flight, or after `timeoutMs` (at stop, so that finished mirrors are recorded). */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while ((this.#pending.size > 0 || this.#outbox.size > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  async close(): Promise<void> {
    if (this.#sendTimer !== null) clearTimeout(this.#sendTimer) // no new worker for jobs that will not run
    this.#sendTimer = null
    this.#outbox.clear()
    for (const p of this.#pending.values()) p.reject(new Error('the gateway is stopping'))
    this.#pending.clear()
    await this.#worker?.terminate()
    this.#worker = null
  }
}
