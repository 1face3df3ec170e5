/**
 * Checking a routes.yaml text on a worker thread (routes-check-worker.ts), for reloads while
 * requests are being served. The worker starts on the first check and stays; a check that
 * takes too long ends it (the next check starts a new one) and is a rejection, not a hang.
 */
import type { Worker } from 'node:worker_threads'
import { startWorker } from '../threads/worker-entry.js'
import type { CatalogSnapshot, CheckOutcome } from './routes-check.js'

export type ToChecker = { code: 'CHECK'; id: number; source: string; catalog: CatalogSnapshot }
export type FromChecker = { code: 'CHECKED'; id: number; outcome: CheckOutcome }

const CHECK_TIMEOUT_MS = 10_000 // a megabyte of routes is checked in about 2 s on a busy core

export class RoutesChecker {
  #worker: Worker | null = null
  #nextId = 1
  readonly #pending = new Map<number, { resolve: (o: CheckOutcome) => void; timer: NodeJS.Timeout }>()

  check(source: string, catalog: CatalogSnapshot): Promise<CheckOutcome> {
    const worker = this.#start()
    const id = this.#nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#stop(`checking the file took longer than ${CHECK_TIMEOUT_MS / 1000} s; simplify it`)
      }, CHECK_TIMEOUT_MS)
      this.#pending.set(id, { resolve, timer })
      worker.ref() // a pending check keeps the process alive; an idle worker does not
      worker.postMessage({ code: 'CHECK', id, source, catalog } satisfies ToChecker)
    })
  }

  close(): Promise<void> {
    this.#stop('the gateway is stopping')
    return Promise.resolve()
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker
    const worker = startWorker('./routes-check-worker', import.meta.url)
    worker.on('message', (message: FromChecker) => {
      switch (message.code) {
        case 'CHECKED': {
          const pending = this.#pending.get(message.id)
          if (pending === undefined) return
          clearTimeout(pending.timer)
          this.#pending.delete(message.id)
          if (this.#pending.size === 0) worker.unref()
          pending.resolve(message.outcome)
          break
        }
        default:
          throw new Error(`unknown message from the config worker: ${JSON.stringify(message)}`)
      }
    })
    worker.on('error', (err) => this.#stop(`the config worker failed: ${err.message}`))
    worker.on('exit', () => {
      if (this.#worker === worker) this.#stop('the config worker exited')
    })
    this.#worker = worker
    return worker
  }

  /** End the worker; every check in flight becomes a rejection saying why. */
  #stop(reason: string): void {
    const worker = this.#worker
    this.#worker = null
    for (const { resolve, timer } of this.#pending.values()) {
      clearTimeout(timer)
      resolve({ ok: false, problems: [{ path: '', line: null, column: null, message: reason }] })
    }
    this.#pending.clear()
    void worker?.terminate()
  }
}
