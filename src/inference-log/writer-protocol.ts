/** Messages between the request thread (inference-log.ts) and the writer worker (writer-worker.ts). */
import type { LogLevel } from '../config/options.js'
import type { LoweredThread } from '../thread-priority.js'
import type { CompareFilter } from '../compare/compare-sql.js'
import type { LIFECYCLE_OPERATIONS } from '../lifecycle/registry.js'
import type { DeliveryStats } from './delivery.js'
import type { GroundTruthItem, InferenceQuery } from '../store/records.js'
import type { JournalPlace } from './journal.js'
import type { PrivacyByModel } from './privacy.js'
import type { StoreSpec } from '../store/store-spec.js'

export interface WriterData {
  readonly store: Exclude<StoreSpec, { kind: 'none' }>
  readonly spillDir: string
  readonly maxBuffered: number
  readonly hashKey: string | null
  readonly privacy: PrivacyByModel
  /** The gateway process's boot id: with each event's numbering, its records' ids. */
  readonly bootId: string
  /** This process's own journal files to deliver again (a writer started after one failed). */
  readonly recoverFiles: readonly string[]
  /** The gateway's --log-level: the worker writes its own lines to stderr (log.ts). */
  readonly logLevel: LogLevel
}

export type WriterCall =
  | { op: 'groundTruth'; model: string; items: GroundTruthItem[] }
  | { op: 'query'; query: InferenceQuery }
  | { op: 'count'; model?: string }
  | { op: 'compare'; filter: CompareFilter }
  | { op: 'timeseries'; filter: CompareFilter; bucketMs: number }
  | { op: 'flush' }
  | { op: 'lifecycle'; name: keyof typeof LIFECYCLE_OPERATIONS; args: unknown[] }

export type ToWriter =
  /**
   * `events` events packed into the first `bytes` bytes of `chunk` (event-codec.ts), transferred,
   * and where they lie in the journal (null: they could not be written there). A null `chunk`:
   * read them from `place` (the writer is far behind, and the request thread keeps no more in memory).
   */
  | { code: 'EVENTS'; chunk: ArrayBuffer | null; bytes: number; events: number; place: JournalPlace | null }
  | { code: 'PRIVACY'; privacy: PrivacyByModel }
  | { code: 'CALL'; id: number; call: WriterCall }
  | { code: 'CLOSE' }

/** Events and chunk bytes the writer has received so far (transferred or read from the journal). */
export interface Taken {
  readonly events: number
  readonly bytes: number
}

export type FromWriter =
  /** With the first records: the writer's kernel thread id and the priority it set (thread-priority.ts runOnlyWhenIdle). */
  | { code: 'PRIORITY'; lowered: LoweredThread }
  /** `taken` (here and in REPLY): for the request thread's figures of how far behind the writer is. */
  | { code: 'STATS'; stats: DeliveryStats; taken: Taken }
  /** An EVENTS chunk, decoded and no longer needed: handed back (transferred) for reuse. */
  | { code: 'CHUNK_BACK'; chunk: ArrayBuffer }
  | { code: 'REPLY'; id: number; ok: true; value: unknown; stats: DeliveryStats; taken: Taken }
  | { code: 'REPLY'; id: number; ok: false; message: string; unavailable: boolean; stats: DeliveryStats; taken: Taken; gateway?: { code: string; status: number; details?: Record<string, unknown> } }
  | { code: 'CLOSED'; stats: DeliveryStats }
