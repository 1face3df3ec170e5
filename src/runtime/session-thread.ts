/**
 * A heavy version's session on a thread of its own (as Triton runs each model instance on its
 * own thread). onnxruntime-node runs session.run synchronously on the calling thread, so a CNN
 * run of a few milliseconds on the request thread stops every socket for that long, and the
 * HTTP, JSON and gRPC work and the runs share one core. Here the request thread only sends
 * feeds and receives outputs; the runs take the other core (docs/architecture.md, Threads).
 *
 * The thread loads its own session from the same file (sha256 checked again) and warms it.
 * Feeds are copied into fresh buffers and transferred: a request's feeds may be views of a
 * shared slab (feed-slab.ts) or of its body, which must never be detached.
 */
import type { Worker } from 'node:worker_threads'
import type { WarmupTensor } from '../registry/metadata.js'
import { startWorker } from '../threads/worker-entry.js'
import type { RunBatch } from './run-coalescer.js'
import type { Feed, RunOutputs } from './tensors.js'

/** What the thread is started with (workerData). */
export interface SessionThreadData {
  readonly onnxPath: string
  readonly sha256: string
  readonly warmup: Readonly<Record<string, WarmupTensor>> | undefined
}

export type ToSessionThread =
  | { code: 'RUN'; id: number; feeds: Feed[] }
  /** Release the session and end the thread. */
  | { code: 'RELEASE' }

export type FromSessionThread =
  | { code: 'READY' }
  | { code: 'LOAD_FAILED'; message: string }
  | { code: 'DONE'; id: number; outputs: RunOutputs }
  | { code: 'FAILED'; id: number; message: string }

/**
 * A version whose warm run of 32 rows (warm-up.ts) takes longer than this (ms) runs on a
 * session thread. A run handed to the thread waits for two messages and a wake-up: 0.11-0.18 ms
 * more than inline, one run after another (iris, credit-risk); a run ten times that is better
 * spent off the request thread. The samples time 0.08-0.17 ms, the benchmark's CNN about 40.
 */
const SESSION_THREAD_MIN_RUN_MS = 2

/**
 * Whether a version's runs go to a session thread: version.yaml's `session_thread` when given,
 * else whether its timed warm run was long. Untimed (warm-up failed or skipped): the request
 * thread, as before.
 */
export function runsOnSessionThread(forced: boolean | undefined, batchRunMs: number | null): boolean {
  if (forced !== undefined) return forced
  return batchRunMs !== null && batchRunMs > SESSION_THREAD_MIN_RUN_MS
}

interface Pending {
  readonly resolve: (outputs: RunOutputs) => void
  readonly reject: (err: Error) => void
}

export class SessionThread {
  readonly #worker: Worker
  readonly #label: string
  readonly #pending = new Map<number, Pending>()
  #nextId = 0
  /** Why runs can no longer be made (released, or the thread died); null while it serves. */
  #stopped: string | null = null
  /** Resolves once the thread has ended, however it ended. */
  readonly exited: Promise<void>
  /** Called once, with why, if the thread ends without being released (a crash): the version cannot run any more. */
  onDeath: ((why: string) => void) | null = null

  private constructor(worker: Worker, label: string) {
    this.#worker = worker
    this.#label = label
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()))
  }

  /** Start the thread and wait until its session is loaded and warmed; throws what stopped it. `label`: model/version, for messages. */
  static start(data: SessionThreadData, label: string): Promise<SessionThread> {
    const worker = startWorker('./session-worker', import.meta.url, { workerData: data })
    const thread = new SessionThread(worker, label)
    return new Promise((resolve, reject) => {
      let lastError = 'it exited'
      worker.on('error', (err) => (lastError = String(err?.message ?? err)))
      worker.once('exit', (code) => thread.#died(`${lastError}, exit code ${code}`, reject))
      worker.on('message', (message: FromSessionThread) => {
        switch (message.code) {
          case 'READY':
            return resolve(thread)
          case 'LOAD_FAILED':
            thread.#stopped = message.message
            void worker.terminate()
            return reject(new Error(message.message))
          case 'DONE':
            return thread.#settle(message.id)?.resolve(message.outputs)
          case 'FAILED':
            return thread.#settle(message.id)?.reject(new Error(message.message))
          default:
            throw new Error(`session thread: unexpected message ${JSON.stringify(message)}`)
        }
      })
    })
  }

  /** The version's RunBatch: one run on the thread's session. */
  readonly run: RunBatch = (feeds) => {
    if (this.#stopped !== null) return Promise.reject(new Error(`the session thread of ${this.#label} is stopped: ${this.#stopped}`))
    const id = this.#nextId++
    const copies: Feed[] = []
    const transfer: ArrayBuffer[] = []
    for (const feed of feeds) {
      if (Array.isArray(feed.data)) {
        copies.push(feed) // strings are cloned
        continue
      }
      const data = feed.data.slice() // a buffer of its own, to transfer
      transfer.push(data.buffer as ArrayBuffer)
      copies.push({ name: feed.name, type: feed.type, data, dims: feed.dims })
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ code: 'RUN', id, feeds: copies } satisfies ToSessionThread, transfer)
    })
  }

  /** Release the session and end the thread; runs still in flight fail. */
  async release(): Promise<void> {
    if (this.#stopped === null) {
      this.#stopped = 'released'
      this.#worker.postMessage({ code: 'RELEASE' } satisfies ToSessionThread)
    }
    // a thread that does not end (a run stuck in native code) is stopped all the same
    const stuck = setTimeout(() => void this.#worker.terminate(), 5_000)
    await this.exited
    clearTimeout(stuck)
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    return pending
  }

  /** The thread ended: fail what was in flight; a crash (not a release) is reported through onDeath. */
  #died(why: string, rejectStart: (err: Error) => void): void {
    const isCrash = this.#stopped === null
    if (isCrash) this.#stopped = `it died (${why})`
    const err = new Error(`the session thread of ${this.#label} is stopped: ${this.#stopped}`)
    for (const pending of this.#pending.values()) pending.reject(err)
    this.#pending.clear()
    rejectStart(err) // no effect once started
    if (isCrash) this.onDeath?.(why)
  }
}
