/**
 * The request thread's side of the inference log. `record` only pushes onto an array;
 * the array goes to the writer worker in one postMessage when it is half a flush interval
 * old or MAX_EVENTS long, so the worker has the other half to commit it: a kill -9 loses at
 * most the last flush interval of records. Calls (ground truth, queries, counts) go to the
 * worker too, behind the records already sent.
 */
import type { Worker } from 'node:worker_threads'
import type { CompareFilter, CompareRaw, TimeseriesRow } from '../compare/compare-sql.js'
import { gatewayError, SwitchyardError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { Logger } from '../log.js'
import { startWorker } from '../worker-entry.js'
import type { LIFECYCLE_OPERATIONS, LifecycleOperationName } from '../lifecycle/registry.js'
import type { DeliveryStats } from './delivery.js'
import { EVENT_SEPARATOR } from './event-codec.js'
import type { GroundTruthItem, GroundTruthOutcome, InferenceQuery, InferenceRecord } from './event.js'
import type { PrivacyByModel } from './privacy.js'
import { describeStoreSpec } from './store-spec.js'
import type { StoreSpec } from './store-spec.js'
import type { FromWriter, ToWriter, WriterCall, WriterData } from './writer-protocol.js'

type OperationResult<N extends LifecycleOperationName> = ReturnType<(typeof LIFECYCLE_OPERATIONS)[N]> extends Generator<unknown, infer T, unknown> ? T : never

const MAX_EVENTS = 512 // events a message
const CLOSE_TIMEOUT_MS = 15_000

export interface InferenceLogOptions {
  readonly store: StoreSpec
  readonly spillDir: string
  /** At most this long between an answer and its record being committed (kill -9 loses at most this much). */
  readonly flushIntervalMs: number
  readonly maxBuffered: number
  readonly hashKey: string | null
  readonly privacy: PrivacyByModel
}

interface PendingCall {
  resolve(value: unknown): void
  reject(err: unknown): void
}

const EMPTY_STATS: DeliveryStats = { buffered: 0, written: 0, spilled: 0, replayed: 0, dropped: 0, rejected: 0, storeUp: false }

export class InferenceLog {
  readonly enabled: boolean
  readonly storeDescription: string
  readonly #options: InferenceLogOptions
  readonly #log: Logger
  #worker: Worker | null = null
  /** Encoded events (event-codec.ts) not yet posted. */
  #events: string[] = []
  #timer: NodeJS.Timeout | null = null
  readonly #calls = new Map<number, PendingCall>()
  #nextCallId = 1
  #closed: Promise<void> | null = null
  /** The worker's latest figures (STATS messages), for metrics. */
  workerStats: DeliveryStats = EMPTY_STATS
  /** Events that could not be handed to the worker (it had stopped): counted, never silent. */
  lost = 0

  constructor(options: InferenceLogOptions, log: Logger) {
    this.#options = options
    this.#log = log
    this.enabled = options.store.kind !== 'none'
    this.storeDescription = describeStoreSpec(options.store)
    if (this.enabled) this.#startWorker()
  }

  #startWorker(): void {
    const { store, spillDir, maxBuffered, hashKey, privacy } = this.#options
    const data: WriterData = { store: store as WriterData['store'], spillDir, maxBuffered, hashKey, privacy }
    const worker = startWorker('./writer-worker', import.meta.url, { workerData: data })
    worker.on('message', (m: FromWriter) => this.#onMessage(m))
    worker.on('error', (err) => {
      this.#log.error('inference log writer failed; starting a new one (records it held in memory are lost)', { err: String(err?.stack ?? err) })
      for (const call of this.#calls.values()) call.reject(err)
      this.#calls.clear()
      if (this.#closed === null) this.#startWorker()
    })
    this.#worker = worker
  }

  /** Enqueue a request's inference (an encodeEvent line); returns at once. */
  record(event: string): void {
    if (!this.enabled) return
    this.#events.push(event)
    if (this.#events.length >= MAX_EVENTS) this.#send()
    else this.#timer ??= setTimeout(this.#send, this.#options.flushIntervalMs / 2)
  }

  readonly #send = (): void => {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    if (this.#events.length === 0) return
    const events = this.#events
    this.#events = []
    if (this.#worker === null) {
      this.lost += events.length
      this.#log.error('inference records dropped: the writer has stopped', { dropped: events.length })
      return
    }
    this.#post({ code: 'EVENTS', count: events.length, batch: events.join(EVENT_SEPARATOR) })
  }

  #post(message: ToWriter): void {
    this.#worker!.postMessage(message)
  }

  /** Records waiting on this thread plus in the worker's memory. */
  get queueDepth(): number {
    return this.#events.length + this.workerStats.buffered
  }

  setPrivacy(privacy: PrivacyByModel): void {
    if (this.#worker !== null) this.#post({ code: 'PRIVACY', privacy })
  }

  groundTruth(model: string, items: GroundTruthItem[]): Promise<GroundTruthOutcome> {
    return this.#call({ op: 'groundTruth', model, items }) as Promise<GroundTruthOutcome>
  }

  query(query: InferenceQuery): Promise<InferenceRecord[]> {
    return this.#call({ op: 'query', query }) as Promise<InferenceRecord[]>
  }

  compareRaw(filter: CompareFilter): Promise<CompareRaw> {
    return this.#call({ op: 'compare', filter }) as Promise<CompareRaw>
  }

  timeseries(filter: CompareFilter, bucketMs: number): Promise<TimeseriesRow[]> {
    return this.#call({ op: 'timeseries', filter, bucketMs }) as Promise<TimeseriesRow[]>
  }

  /** Run a lifecycle operation by name in the store (src/lifecycle/operations.ts). */
  lifecycle<N extends LifecycleOperationName>(name: N, ...args: Parameters<(typeof LIFECYCLE_OPERATIONS)[N]>): Promise<OperationResult<N>> {
    return this.#call({ op: 'lifecycle', name, args }) as Promise<OperationResult<N>>
  }

  count(model?: string): Promise<number> {
    return this.#call({ op: 'count', model }) as Promise<number>
  }

  /** Resolves when every record enqueued so far is in the store. */
  flush(): Promise<void> {
    return this.#call({ op: 'flush' }).then(() => undefined)
  }

  #call(call: WriterCall): Promise<unknown> {
    if (!this.enabled || this.#worker === null) return Promise.reject(gatewayError('INFERENCE_LOG_DISABLED'))
    this.#send() // the call sees every record enqueued before it
    const id = this.#nextCallId++
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject })
      this.#post({ code: 'CALL', id, call })
    })
  }

  #onMessage(m: FromWriter): void {
    switch (m.code) {
      case 'STATS':
        this.workerStats = m.stats
        return
      case 'LOG':
        this.#log[m.level](m.message, m.fields)
        return
      case 'REPLY': {
        this.workerStats = m.stats // a caller who just flushed sees figures that include its records
        const call = this.#calls.get(m.id)
        this.#calls.delete(m.id)
        if (m.ok) call?.resolve(m.value)
        else if (m.unavailable) call?.reject(gatewayError('INFERENCE_STORE_UNAVAILABLE'))
        else if (m.gateway !== undefined) call?.reject(new SwitchyardError(m.gateway.code as ErrorCode, m.gateway.status, m.message, { details: m.gateway.details }))
        else call?.reject(new Error(m.message))
        return
      }
      case 'CLOSED':
        this.workerStats = m.stats
        return
    }
  }

  /** Hand over what is enqueued, let the worker deliver it (or spill it), then stop the worker. */
  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  async #close(): Promise<void> {
    const worker = this.#worker
    if (worker === null) return
    this.#send()
    await new Promise<void>((resolve) => {
      const timeout = setTimeout(() => {
        this.#log.error('inference log writer did not finish in time; stopping it', { timeout_ms: CLOSE_TIMEOUT_MS })
        resolve()
      }, CLOSE_TIMEOUT_MS)
      worker.on('message', (m: FromWriter) => {
        if (m.code !== 'CLOSED') return
        clearTimeout(timeout)
        resolve()
      })
      this.#post({ code: 'CLOSE' })
    })
    this.#worker = null
    await worker.terminate()
  }
}
