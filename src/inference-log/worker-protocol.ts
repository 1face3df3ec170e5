/**
 * Messages between the request thread (inference-log.ts) and the store worker
 * (store-worker.ts): the inference log's records and the store calls (store/calls.ts), on one
 * port, so that a call reaches the worker behind every record handed before it.
 */
import type { LogLevel } from '../log.js'
import type { CallMessage, ReplyMessage } from '../store/calls.js'
import type { StoreSpec } from '../store/store-spec.js'
import type { LoweredThread } from '../threads/thread-priority.js'
import type { DeliveryStats } from './delivery.js'
import type { JournalPlace } from './journal.js'
import type { PrivacyByModel } from './privacy.js'

export interface StoreWorkerData {
  readonly store: Exclude<StoreSpec, { kind: 'none' }>
  readonly spillDir: string
  readonly maxBuffered: number
  readonly hashKey: string | null
  readonly privacy: PrivacyByModel
  /** The gateway process's boot id: with each event's numbering, its records' ids. */
  readonly bootId: string
  /** This process's own journal files to deliver again (a worker started after one failed). */
  readonly recoverFiles: readonly string[]
  /** The gateway's --log-level: the worker writes its own lines to stderr (log.ts). */
  readonly logLevel: LogLevel
}

export type ToStoreWorker =
  /**
   * `events` events packed into the first `bytes` bytes of `chunk` (event-codec.ts), transferred,
   * and where they lie in the journal (null: they could not be written there). A null `chunk`:
   * read them from `place` (the worker is far behind, and the request thread keeps no more in memory).
   */
  | { code: 'EVENTS'; chunk: ArrayBuffer | null; bytes: number; events: number; place: JournalPlace | null }
  | { code: 'PRIVACY'; privacy: PrivacyByModel }
  | CallMessage
  | { code: 'CLOSE' }

/** Events and chunk bytes the worker has received so far (transferred or read from the journal). */
export interface Taken {
  readonly events: number
  readonly bytes: number
}

export type FromStoreWorker =
  /** With the first records: the worker's kernel thread id and the priority it set (threads/thread-priority.ts runOnlyWhenIdle). */
  | { code: 'PRIORITY'; lowered: LoweredThread }
  /** `taken`: for the request thread's figures of how far behind the worker is. Sent before each REPLY too. */
  | { code: 'STATS'; stats: DeliveryStats; taken: Taken }
  /** An EVENTS chunk, decoded and no longer needed: handed back (transferred) for reuse. */
  | { code: 'CHUNK_BACK'; chunk: ArrayBuffer }
  | ReplyMessage
  | { code: 'CLOSED'; stats: DeliveryStats }
