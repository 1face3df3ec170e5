/**
 * Main-thread side of mirroring: hands shadow and challenger runs to the mirror worker with
 * a bounded number in flight. Above the bound a mirror is dropped and counted, never queued
 * without limit and never allowed to slow the primary (Envoy/Istio mirror policy).
 */
import type { Worker } from 'node:worker_threads'
import type { RunOutputs } from '../runtime/tensors.js'
import type { Feed } from '../runtime/tensors.js'
import { startWorker } from '../worker-entry.js'
import type { FromMirrorWorker, MirrorJob, MirrorTarget, ToMirrorWorker } from './mirror-protocol.js'

export interface MirrorResult {
  readonly outputs: RunOutputs
  readonly ms: number
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
  /** Jobs of this event-loop turn, posted together. */
  #outbox: MirrorJob[] = []
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
      if (this.#outbox.length === 0) setImmediate(this.#sendJobs)
      this.#outbox.push({ id, target, feeds: feeds as Feed[], rows })
    })
  }

  readonly #sendJobs = (): void => {
    const jobs = this.#outbox
    this.#outbox = []
    this.#post({ code: 'RUN', jobs })
  }

  #isFull(): boolean {
    if (this.inFlight < this.#maxInFlight) return false
    this.dropped++
    return true
  }

  #post(message: ToMirrorWorker): void {
    this.#started().postMessage(message)
  }

  #onMessage(m: FromMirrorWorker): void {
    if (m.code !== 'OUTCOMES') throw new Error(`mirror runner: unexpected message ${JSON.stringify(m)}`)
    for (const outcome of m.outcomes) {
      const pending = this.#pending.get(outcome.id)
      if (pending === undefined) continue
      this.#pending.delete(outcome.id)
      if (outcome.code === 'DONE') pending.resolve({ outputs: outcome.outputs, ms: outcome.ms })
      else pending.reject(new Error(outcome.message))
    }
  }

  /** Resolves when no mirror is in flight, or after `timeoutMs` (at stop, so that finished mirrors are recorded). */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while ((this.#pending.size > 0 || this.#outbox.length > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  async close(): Promise<void> {
    for (const p of this.#pending.values()) p.reject(new Error('the gateway is stopping'))
    this.#pending.clear()
    await this.#worker?.terminate()
    this.#worker = null
  }
}
