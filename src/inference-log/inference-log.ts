/**
 * The request thread's side of the inference log, and the owner of the store worker thread.
 * `record` packs the event into the current chunk (event-codec.ts); when the chunk is half a
 * flush interval old or full, it is appended to the journal (journal.ts) and then handed to
 * the store worker, transferred: a kill -9 loses at most the last flush interval of records,
 * however far behind the worker is. Store calls (`store`: ground truth, queries, the
 * comparison, the lifecycle) go to the worker too, behind the records already handed.
 */
import type { Worker } from 'node:worker_threads'
import { newBootId } from '../inference-id.js'
import type { Logger } from '../log.js'
import type { LogLevel } from '../log.js'
import type { CallMessage } from '../store/calls.js'
import { RECORD_OPERATIONS } from '../store/query-sql.js'
import type { GroundTruthItem, GroundTruthOutcome, InferenceQuery, InferenceRecord, InferenceRole } from '../store/records.js'
import { StoreClient } from '../store/store-client.js'
import { describeStoreSpec } from '../store/store-spec.js'
import type { StoreSpec } from '../store/store-spec.js'
import { IdleThread } from '../threads/thread-priority.js'
import { startWorker } from '../threads/worker-entry.js'
import type { DeliveryStats } from './delivery.js'
import { EventChunkWriter } from './event-codec.js'
import type { EventChunk } from './event-codec.js'
import { GROUND_TRUTH_OPERATIONS } from './ground-truth.js'
import { SENT_IN_TASK } from './sent-in.js'
import type { SentInItem, SentInOutcome } from './sent-in.js'
import { Journal } from './journal.js'
import type { JournalPlace } from './journal.js'
import type { PrivacyByModel } from './privacy.js'
import type { RecordContext } from './record-context.js'
import type { FromStoreWorker, StoreWorkerData, ToStoreWorker } from './worker-protocol.js'

const CHUNK_BYTES = 1 << 20 // 1 MiB: about 1,500 one-row events, the records of 50 ms at 30,000 a second
/**
 * Chunk bytes handed to the worker and not yet handed back: above this, the worker is far
 * behind (it runs only when a core is free), and chunks go to it as their place in the
 * journal instead, so that its backlog waits on disk rather than in memory.
 */
const MAX_IN_FLIGHT_BYTES = 64 << 20 // 64 MiB
/** The same when the journal cannot be written: beyond this, records are dropped and counted. */
const MAX_IN_FLIGHT_BYTES_WITHOUT_JOURNAL = 512 << 20 // 512 MiB
/** How long the stop waits for the store worker to write what is left; deploy/k8s budgets its grace period on it. */
export const CLOSE_TIMEOUT_MS = 15_000 // 15 s
const RELAX_AFTER_MS = 1_000 // the worker, hurried for calls, goes back to idle priority once none came for this long

export interface InferenceLogOptions {
  readonly store: StoreSpec
  readonly spillDir: string
  /** At most this long between an answer and its record being in the journal (kill -9 loses at most this much). */
  readonly flushIntervalMs: number
  readonly maxBuffered: number
  /** Bytes of records the store worker may fall behind before it is hurried (they wait in the journal meanwhile). */
  readonly maxWriterLagBytes: number
  readonly hashKey: string | null
  readonly privacy: PrivacyByModel
  /** The writer worker logs on its own (log.ts), at this level. */
  readonly logLevel: LogLevel
}

const EMPTY_STATS: DeliveryStats = { buffered: 0, written: 0, spilled: 0, replayed: 0, dropped: 0, rejected: 0, storeUp: false }

export class InferenceLog {
  readonly enabled: boolean
  readonly storeDescription: string
  /** The store's calls, through the worker (lifecycle, comparison, ground truth, queries). */
  readonly store: StoreClient
  readonly #options: InferenceLogOptions
  /** The privacy rules in force (setPrivacy), for a worker started after a failure. */
  #privacy: PrivacyByModel
  readonly #log: Logger
  #worker: Worker | null = null
  /** Events not yet posted. */
  readonly #chunks = new EventChunkWriter(CHUNK_BYTES)
  /** The next record's number; with the boot id, it makes record ids (inference-id.ts recordIdOf). */
  #seq = 0
  readonly #bootId = newBootId()
  #timer: NodeJS.Timeout | null = null
  readonly #journal: Journal
  /** Chunk bytes the worker holds (EVENTS sent, CHUNK_BACK not yet received). */
  #inFlightBytes = 0
  /** Events and bytes handed to the current worker, and what it said it has taken (STATS): the difference is its lag. */
  #posted = { events: 0, bytes: 0 }
  #taken = { events: 0, bytes: 0 }
  /** The worker is more than maxWriterLagBytes behind (until it is back under half of that). */
  #isLagging = false
  /** When the journal last failed to take a chunk (its errors are logged at most once a minute). */
  #journalErrorLoggedAt = 0
  #closed: Promise<void> | null = null
  /** The worker's thread once it lowered its priority (its PRIORITY message): hurried while a call waits and for the stop. */
  #workerPriority: IdleThread | null = null
  #relaxTimer: NodeJS.Timeout | null = null
  /** The worker's latest figures (STATS messages), for metrics. */
  workerStats: DeliveryStats = EMPTY_STATS
  /** Events that could not be handed to the worker (it had stopped, or the backlog was full without a journal): counted, never silent. */
  lost = 0
  /** Chunks the journal could not take: their records were only in memory until delivered. */
  journalFailures = 0

  constructor(options: InferenceLogOptions, log: Logger) {
    this.#options = options
    this.#privacy = options.privacy
    this.#log = log
    this.enabled = options.store.kind !== 'none'
    this.storeDescription = describeStoreSpec(options.store)
    this.store = new StoreClient({ isEnabled: this.enabled, post: (message) => this.#postCall(message), hurry: () => this.#hurryWorker() })
    this.#journal = new Journal(options.spillDir, this.#bootId)
    if (this.enabled) this.#startWorker([])
  }

  /** `recoverFiles`: this process's own journal files, for a worker started after one failed. */
  #startWorker(recoverFiles: string[]): void {
    const { store, spillDir, maxBuffered, hashKey, logLevel } = this.#options
    const data: StoreWorkerData = { store: store as StoreWorkerData['store'], spillDir, maxBuffered, hashKey, privacy: this.#privacy, bootId: this.#bootId, recoverFiles, logLevel }
    const worker = startWorker('./store-worker', import.meta.url, { workerData: data })
    worker.on('message', (m: FromStoreWorker) => this.#onMessage(m))
    worker.on('error', (err) => {
      this.#log.error('the store worker failed; starting a new one, which delivers what the journal holds', { err: String(err?.stack ?? err) })
      this.store.abandon(err)
      this.#worker = null
      this.#workerPriority = null // the next worker sends its own
      this.#inFlightBytes = 0
      this.#posted = { events: 0, bytes: 0 } // the next worker reads what this one had not taken from the journal files
      this.#taken = { events: 0, bytes: 0 }
      this.#isLagging = false
      if (this.#closed !== null) return
      // the files written so far, whole: the new worker delivers them again (the store keeps each record once)
      this.#journal.barrier(() => this.#startWorker(this.#journal.rotate()))
    })
    this.#worker = worker
  }

  /** Enqueue the record(s) of one version's answer (or failure) to a request; returns at once. */
  record(ctx: RecordContext, model: string, version: string, role: InferenceRole, latencyMs: number, answer: string | Buffer | null, status: number, errorCode: string | null): void {
    if (!this.enabled) return
    const full = this.#chunks.write(ctx, this.#seq, model, version, role, latencyMs, answer, status, errorCode)
    this.#seq = (this.#seq + ctx.ids.length) >>> 0
    if (full !== null) this.#hand(full)
    this.#timer ??= setTimeout(this.#send, this.#options.flushIntervalMs / 2)
  }

  readonly #send = (): void => {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const chunk = this.#chunks.take()
    if (chunk !== null) this.#hand(chunk)
  }

  /** Into the journal, then to the worker: in that order, so that what the worker has not handled is on disk. */
  #hand(chunk: EventChunk): void {
    this.#journal.append(chunk, (place, err) => {
      if (err !== null) this.#journalFailed(err)
      this.#post(chunk, place)
    })
  }

  #post(chunk: EventChunk, place: JournalPlace | null): void {
    const worker = this.#worker
    const limit = place === null ? MAX_IN_FLIGHT_BYTES_WITHOUT_JOURNAL : MAX_IN_FLIGHT_BYTES
    if (worker === null && place !== null) {
      // the worker failed just now: the one started after it reads this chunk from the journal
      this.#chunks.giveBack(chunk.buffer)
      return
    }
    if (worker === null || (place === null && this.#inFlightBytes > limit)) {
      this.lost += chunk.events
      this.#log.error('inference records dropped: the store worker is not taking them and the journal cannot hold them', { dropped: chunk.events, lost_total: this.lost })
      return
    }
    this.#posted.events += chunk.events
    this.#posted.bytes += chunk.bytes
    this.#checkLag()
    if (this.#inFlightBytes > limit) {
      // the worker is far behind: it reads this chunk from the journal when it gets there
      worker.postMessage({ code: 'EVENTS', chunk: null, bytes: chunk.bytes, events: chunk.events, place } satisfies ToStoreWorker)
      this.#chunks.giveBack(chunk.buffer)
      return
    }
    this.#inFlightBytes += chunk.buffer.byteLength
    worker.postMessage({ code: 'EVENTS', chunk: chunk.buffer, bytes: chunk.bytes, events: chunk.events, place } satisfies ToStoreWorker, [chunk.buffer])
  }

  #journalFailed(err: Error): void {
    this.journalFailures++
    if (Date.now() - this.#journalErrorLoggedAt < 60_000) return
    this.#journalErrorLoggedAt = Date.now()
    this.#log.error('the inference log journal cannot be written: records are delivered, but a crash before that loses them', {
      dir: this.#journal.dir, failures: this.journalFailures, err: err.message,
    })
  }

  /** A message to the worker, behind every chunk handed before it. */
  #postAfterChunks(message: ToStoreWorker): void {
    this.#journal.barrier(() => this.#worker?.postMessage(message))
  }

  /** Bytes of records handed to the worker and not yet taken in, in memory or only in the journal. */
  get writerBacklogBytes(): number {
    return this.#posted.bytes - this.#taken.bytes
  }

  /** Records waiting on this thread, on their way to the worker (in memory or the journal) and in its memory. */
  get queueDepth(): number {
    return this.#chunks.events + (this.#posted.events - this.#taken.events) + this.workerStats.buffered
  }

  /**
   * Records can wait for a free core, but not without bound: the journal holding them grows on
   * disk, and a crash or a stop leaves more for the next start. Beyond maxWriterLagBytes the
   * worker is hurried until it is back under half of that.
   */
  #checkLag(): void {
    const behind = this.writerBacklogBytes
    const max = this.#options.maxWriterLagBytes
    if (!this.#isLagging && behind > max) {
      this.#isLagging = true
      this.#log.warn('the store worker is far behind (the machine has had no free core for it): it runs at normal priority until it has caught up', { behind_bytes: behind, max_lag_bytes: max })
      this.#hurryWorker()
    } else if (this.#isLagging && behind < max / 2) {
      this.#isLagging = false
      this.#relaxWorkerSoon()
    }
  }

  setPrivacy(privacy: PrivacyByModel): void {
    this.#privacy = privacy // a worker started after a failure applies it too
    if (this.#worker !== null) this.#postAfterChunks({ code: 'PRIVACY', privacy })
  }

  groundTruth(model: string, items: GroundTruthItem[]): Promise<GroundTruthOutcome> {
    return this.store.run(GROUND_TRUTH_OPERATIONS.add, model, items)
  }

  /** Inferences made elsewhere, stored as `external` records once each (sent-in.ts). */
  sendIn(model: string, items: SentInItem[]): Promise<SentInOutcome> {
    return this.store.task(SENT_IN_TASK, model, items)
  }

  query(query: InferenceQuery): Promise<InferenceRecord[]> {
    return this.store.run(RECORD_OPERATIONS.query, query)
  }

  count(model?: string): Promise<number> {
    return this.store.run(RECORD_OPERATIONS.count, model)
  }

  /** Resolves when every record enqueued so far is in the store. */
  flush(): Promise<void> {
    return this.store.flush()
  }

  /** The store client's way to the worker: behind every record enqueued before the call. */
  #postCall(message: CallMessage): boolean {
    if (!this.enabled || this.#worker === null) return false
    this.#send() // the call sees every record enqueued before it
    this.#journal.barrier(() => {
      if (this.#worker === null) return this.store.settle({ code: 'REPLY', id: message.id, ok: false, failure: { kind: 'unavailable' } }) // its worker failed just now
      this.#worker.postMessage(message satisfies ToStoreWorker)
    })
    return true
  }

  #onMessage(m: FromStoreWorker): void {
    switch (m.code) {
      case 'STATS':
        this.workerStats = m.stats
        this.#taken = m.taken
        this.#checkLag()
        return
      case 'CHUNK_BACK':
        this.#inFlightBytes -= m.chunk.byteLength
        this.#chunks.giveBack(m.chunk)
        return
      case 'REPLY':
        this.store.settle(m) // the worker sent STATS just before: a caller who flushed sees figures that include its records
        this.#relaxWorkerSoon()
        return
      case 'CLOSED':
        this.workerStats = m.stats
        return
      case 'PRIORITY':
        this.#workerPriority = new IdleThread(m.lowered, 'store worker', this.#log)
        if (this.#workerMustHurry()) this.#workerPriority.hurry()
        return
      default:
        throw new Error(`inference log: unexpected message from the store worker ${JSON.stringify(m satisfies never)}`)
    }
  }

  /**
   * A call waits for the worker to catch up with every record before it, and the stop for it to
   * deliver the rest: at idle priority on a machine kept busy by other processes, both waited as
   * long as the machine stayed busy (a stop under the whole test suite outlasted the test's minute).
   */
  #hurryWorker(): void {
    if (this.#relaxTimer !== null) clearTimeout(this.#relaxTimer)
    this.#relaxTimer = null
    this.#workerPriority?.hurry()
  }

  /** A call waits for the worker, the stop has begun, or the worker is too far behind. */
  #workerMustHurry(): boolean {
    return this.store.urgentWaiting > 0 || this.#closed !== null || this.#isLagging
  }

  /** Once nothing has needed it hurried for RELAX_AFTER_MS: calls come in bursts (a dashboard's refresh), each `chrt` is a process. */
  #relaxWorkerSoon(): void {
    if (this.#workerMustHurry() || this.#workerPriority === null) return
    if (this.#relaxTimer !== null) clearTimeout(this.#relaxTimer)
    this.#relaxTimer = setTimeout(() => {
      this.#relaxTimer = null
      if (!this.#workerMustHurry()) this.#workerPriority?.relax()
    }, RELAX_AFTER_MS).unref()
  }

  /** Hand over what is enqueued, let the worker deliver it (or spill it), then stop the worker. */
  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  async #close(): Promise<void> {
    const worker = this.#worker
    if (worker === null) return
    this.#hurryWorker()
    this.#send()
    await new Promise<void>((resolve) => {
      const timeout = setTimeout(() => {
        this.#log.error('the store worker did not finish in time; stopping it', { timeout_ms: CLOSE_TIMEOUT_MS })
        resolve()
      }, CLOSE_TIMEOUT_MS)
      worker.on('message', (m: FromStoreWorker) => {
        if (m.code !== 'CLOSED') return
        clearTimeout(timeout)
        resolve()
      })
      this.#postAfterChunks({ code: 'CLOSE' })
    })
    this.#worker = null
    this.#workerPriority = null
    await this.#journal.close()
    await worker.terminate()
  }
}
