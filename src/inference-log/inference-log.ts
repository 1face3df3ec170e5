/**
 * The request thread's side of the inference log. `record` packs the event into the current
 * chunk (event-codec.ts); when the chunk is half a flush interval old or full, it is appended
 * to the journal (journal.ts) and then handed to the writer worker, transferred: a kill -9
 * loses at most the last flush interval of records, however far behind the writer is. Calls
 * (ground truth, queries, counts) go to the worker too, behind the records already handed.
 */
import type { Worker } from 'node:worker_threads'
import type { CompareFilter, CompareRaw, TimeseriesRow } from '../compare/compare-sql.js'
import { gatewayError, SwitchyardError } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import type { Logger } from '../log.js'
import type { LogLevel } from '../config/options.js'
import { IdleThread } from '../thread-priority.js'
import { startWorker } from '../worker-entry.js'
import type { LIFECYCLE_OPERATIONS } from '../lifecycle/registry.js'
import type { DeliveryStats } from './delivery.js'
import { EventChunkWriter } from './event-codec.js'
import type { EventChunk } from './event-codec.js'
import type { GroundTruthItem, GroundTruthOutcome, InferenceQuery, InferenceRecord, InferenceRole } from '../store/records.js'
import { newBootId } from '../inference-id.js'
import { Journal } from './journal.js'
import type { JournalPlace } from './journal.js'
import type { PrivacyByModel } from './privacy.js'
import type { RecordContext } from './record-context.js'
import { describeStoreSpec } from '../store/store-spec.js'
import type { StoreSpec } from '../store/store-spec.js'
import type { FromWriter, ToWriter, WriterCall, WriterData } from './writer-protocol.js'

type LifecycleOperationName = keyof typeof LIFECYCLE_OPERATIONS
type OperationResult<N extends LifecycleOperationName> = ReturnType<(typeof LIFECYCLE_OPERATIONS)[N]['start']> extends Generator<unknown, infer T, unknown> ? T : never

const CHUNK_BYTES = 1 << 20 // 1 MiB: about 1,500 one-row events, the records of 50 ms at 30,000 a second
/**
 * Chunk bytes handed to the writer and not yet handed back: above this, the writer is far
 * behind (it runs only when a core is free), and chunks go to it as their place in the
 * journal instead, so that its backlog waits on disk rather than in memory.
 */
const MAX_IN_FLIGHT_BYTES = 64 << 20 // 64 MiB
/** The same when the journal cannot be written: beyond this, records are dropped and counted. */
const MAX_IN_FLIGHT_BYTES_WITHOUT_JOURNAL = 512 << 20 // 512 MiB
const CLOSE_TIMEOUT_MS = 15_000
const RELAX_AFTER_MS = 1_000 // the writer, hurried for calls, goes back to idle priority once none came for this long

export interface InferenceLogOptions {
  readonly store: StoreSpec
  readonly spillDir: string
  /** At most this long between an answer and its record being in the journal (kill -9 loses at most this much). */
  readonly flushIntervalMs: number
  readonly maxBuffered: number
  /** Bytes of records the writer may fall behind before it is hurried (they wait in the journal meanwhile). */
  readonly maxWriterLagBytes: number
  readonly hashKey: string | null
  readonly privacy: PrivacyByModel
  /** The writer worker logs on its own (log.ts), at this level. */
  readonly logLevel: LogLevel
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
  /** The privacy rules in force (setPrivacy), for a writer started after a failure. */
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
  /** Chunk bytes the writer holds (EVENTS sent, CHUNK_BACK not yet received). */
  #inFlightBytes = 0
  /** Events and bytes handed to the current writer, and what it said it has taken (STATS): the difference is its lag. */
  #posted = { events: 0, bytes: 0 }
  #taken = { events: 0, bytes: 0 }
  /** The writer is more than maxWriterLagBytes behind (until it is back under half of that). */
  #isLagging = false
  /** When the journal last failed to take a chunk (its errors are logged at most once a minute). */
  #journalErrorLoggedAt = 0
  readonly #calls = new Map<number, PendingCall>()
  #nextCallId = 1
  #closed: Promise<void> | null = null
  /** The writer's thread once it lowered its priority (its PRIORITY message): hurried while a call waits and for the stop. */
  #writerPriority: IdleThread | null = null
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
    this.#journal = new Journal(options.spillDir, this.#bootId)
    if (this.enabled) this.#startWorker([])
  }

  /** `recoverFiles`: this process's own journal files, for a writer started after one failed. */
  #startWorker(recoverFiles: string[]): void {
    const { store, spillDir, maxBuffered, hashKey, logLevel } = this.#options
    const data: WriterData = { store: store as WriterData['store'], spillDir, maxBuffered, hashKey, privacy: this.#privacy, bootId: this.#bootId, recoverFiles, logLevel }
    const worker = startWorker('./writer-worker', import.meta.url, { workerData: data })
    worker.on('message', (m: FromWriter) => this.#onMessage(m))
    worker.on('error', (err) => {
      this.#log.error('inference log writer failed; starting a new one, which delivers what the journal holds', { err: String(err?.stack ?? err) })
      for (const call of this.#calls.values()) call.reject(err)
      this.#calls.clear()
      this.#worker = null
      this.#writerPriority = null // the next writer sends its own
      this.#inFlightBytes = 0
      this.#posted = { events: 0, bytes: 0 } // the next writer reads what this one had not taken from the journal files
      this.#taken = { events: 0, bytes: 0 }
      this.#isLagging = false
      if (this.#closed !== null) return
      // the files written so far, whole: the new writer delivers them again (the store keeps each record once)
      this.#journal.barrier(() => this.#startWorker(this.#journal.rotate()))
    })
    this.#worker = worker
  }

  /** Enqueue the record(s) of one version's answer (or failure) to a request; returns at once. */
  record(ctx: RecordContext, model: string, version: string, role: InferenceRole, latencyMs: number, answer: string | null, status: number, errorCode: string | null): void {
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

  /** Into the journal, then to the writer: in that order, so that what the writer has not handled is on disk. */
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
      // the writer failed just now: the one started after it reads this chunk from the journal
      this.#chunks.giveBack(chunk.buffer)
      return
    }
    if (worker === null || (place === null && this.#inFlightBytes > limit)) {
      this.lost += chunk.events
      this.#log.error('inference records dropped: the writer is not taking them and the journal cannot hold them', { dropped: chunk.events, lost_total: this.lost })
      return
    }
    this.#posted.events += chunk.events
    this.#posted.bytes += chunk.bytes
    this.#checkLag()
    if (this.#inFlightBytes > limit) {
      // the writer is far behind: it reads this chunk from the journal when it gets there
      worker.postMessage({ code: 'EVENTS', chunk: null, bytes: chunk.bytes, events: chunk.events, place } satisfies ToWriter)
      this.#chunks.giveBack(chunk.buffer)
      return
    }
    this.#inFlightBytes += chunk.buffer.byteLength
    worker.postMessage({ code: 'EVENTS', chunk: chunk.buffer, bytes: chunk.bytes, events: chunk.events, place } satisfies ToWriter, [chunk.buffer])
  }

  #journalFailed(err: Error): void {
    this.journalFailures++
    if (Date.now() - this.#journalErrorLoggedAt < 60_000) return
    this.#journalErrorLoggedAt = Date.now()
    this.#log.error('the inference log journal cannot be written: records are delivered, but a crash before that loses them', {
      dir: this.#journal.dir, failures: this.journalFailures, err: err.message,
    })
  }

  /** A message to the writer, behind every chunk handed before it. */
  #postAfterChunks(message: ToWriter): void {
    this.#journal.barrier(() => this.#worker?.postMessage(message))
  }

  /** Bytes of records handed to the writer and not yet taken in, in memory or only in the journal. */
  get writerBacklogBytes(): number {
    return this.#posted.bytes - this.#taken.bytes
  }

  /** Records waiting on this thread, on their way to the writer (in memory or the journal) and in its memory. */
  get queueDepth(): number {
    return this.#chunks.events + (this.#posted.events - this.#taken.events) + this.workerStats.buffered
  }

  /**
   * Records can wait for a free core, but not without bound: the journal holding them grows on
   * disk, and a crash or a stop leaves more for the next start. Beyond maxWriterLagBytes the
   * writer is hurried until it is back under half of that.
   */
  #checkLag(): void {
    const behind = this.writerBacklogBytes
    const max = this.#options.maxWriterLagBytes
    if (!this.#isLagging && behind > max) {
      this.#isLagging = true
      this.#log.warn('the inference log writer is far behind (the machine has had no free core for it): it runs at normal priority until it has caught up', { behind_bytes: behind, max_lag_bytes: max })
      this.#hurryWriter()
    } else if (this.#isLagging && behind < max / 2) {
      this.#isLagging = false
      this.#relaxWriterSoon()
    }
  }

  setPrivacy(privacy: PrivacyByModel): void {
    this.#privacy = privacy // a writer started after a failure applies it too
    if (this.#worker !== null) this.#postAfterChunks({ code: 'PRIVACY', privacy })
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
  lifecycle<N extends LifecycleOperationName>(name: N, ...args: Parameters<(typeof LIFECYCLE_OPERATIONS)[N]['start']>): Promise<OperationResult<N>> {
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
      this.#journal.barrier(() => {
        if (this.#worker === null) return reject(gatewayError('INFERENCE_STORE_UNAVAILABLE')) // its writer failed just now
        this.#calls.set(id, { resolve, reject })
        this.#hurryWriter()
        this.#worker.postMessage({ code: 'CALL', id, call } satisfies ToWriter)
      })
    })
  }

  #onMessage(m: FromWriter): void {
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
      case 'REPLY': {
        this.workerStats = m.stats // a caller who just flushed sees figures that include its records
        this.#taken = m.taken
        const call = this.#calls.get(m.id)
        this.#calls.delete(m.id)
        this.#relaxWriterSoon()
        if (m.ok) call?.resolve(m.value)
        else if (m.unavailable) call?.reject(gatewayError('INFERENCE_STORE_UNAVAILABLE'))
        else if (m.gateway !== undefined) call?.reject(new SwitchyardError(m.gateway.code as ErrorCode, m.gateway.status, m.message, { details: m.gateway.details }))
        else call?.reject(new Error(m.message))
        return
      }
      case 'CLOSED':
        this.workerStats = m.stats
        return
      case 'PRIORITY':
        this.#writerPriority = new IdleThread(m.lowered, 'inference log writer', this.#log)
        if (this.#writerMustHurry()) this.#writerPriority.hurry()
        return
      default:
        throw new Error(`unexpected message from the inference log writer: ${JSON.stringify(m)}`)
    }
  }

  /**
   * A call waits for the writer to catch up with every record before it, and the stop for it to
   * deliver the rest: at idle priority on a machine kept busy by other processes, both waited as
   * long as the machine stayed busy (a stop under the whole test suite outlasted the test's minute).
   */
  #hurryWriter(): void {
    if (this.#relaxTimer !== null) clearTimeout(this.#relaxTimer)
    this.#relaxTimer = null
    this.#writerPriority?.hurry()
  }

  /** A call waits for the writer, the stop has begun, or the writer is too far behind. */
  #writerMustHurry(): boolean {
    return this.#calls.size > 0 || this.#closed !== null || this.#isLagging
  }

  /** Once nothing has needed it hurried for RELAX_AFTER_MS: calls come in bursts (a dashboard's refresh), each `chrt` is a process. */
  #relaxWriterSoon(): void {
    if (this.#writerMustHurry() || this.#writerPriority === null) return
    if (this.#relaxTimer !== null) clearTimeout(this.#relaxTimer)
    this.#relaxTimer = setTimeout(() => {
      this.#relaxTimer = null
      if (!this.#writerMustHurry()) this.#writerPriority?.relax()
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
    this.#hurryWriter()
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
      this.#postAfterChunks({ code: 'CLOSE' })
    })
    this.#worker = null
    this.#writerPriority = null
    await this.#journal.close()
    await worker.terminate()
  }
}
