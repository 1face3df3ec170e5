/**
 * The store worker: the one thread that uses the store (a SQLite connection is synchronous and
 * belongs to one thread). It expands the events the request thread enqueued into records,
 * applies the privacy rules, and delivers them (delivery.ts); and it answers the store calls
 * (store/calls.ts: ground truth, inferences sent in, queries, the comparison, the lifecycle), each after the
 * records received before it, so that a caller who posts ground truth right after an
 * inference finds it. Here the operations of every client are put together by name.
 *
 * Once records flow it runs only when a core is free (runOnlyWhenIdle): records can wait,
 * requests cannot. What it has not handled yet is in the journal (journal.ts), and at start it
 * delivers what an earlier process's journal still holds.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { createLogger } from '../log.js'
import { COMPARE_OPERATIONS } from '../compare/registry.js'
import { DriftRollups } from '../drift/drift-rollups.js'
import { DRIFT_OPERATIONS } from '../drift/registry.js'
import { LIFECYCLE_OPERATIONS } from '../lifecycle/registry.js'
import { answerCall, StoreUnavailable } from '../store/calls.js'
import { CANARY_OPERATIONS } from '../store/canary-state.js'
import { openStore } from '../store/open-store.js'
import { indexOperations } from '../store/operation.js'
import { RECORD_OPERATIONS } from '../store/query-sql.js'
import { ROUTE_REVISION_OPERATIONS } from '../store/route-revisions.js'
import type { StoredInference } from '../store/records.js'
import type { Store } from '../store/store.js'
import { runOnlyWhenIdle } from '../threads/thread-priority.js'
import { Delivery } from './delivery.js'
import { decodeEvents } from './event-codec.js'
import { expandEvent } from './expand.js'
import { GROUND_TRUTH_OPERATIONS } from './ground-truth.js'
import { JournalCleaner, journalFrames, orphanJournals, readJournalPlace } from './journal.js'
import type { JournalPlace } from './journal.js'
import type { PrivacyByModel } from './privacy.js'
import { addSentIn, SENT_IN_OPERATIONS, SENT_IN_TASK } from './sent-in.js'
import type { SentInItem, SentInWriter } from './sent-in.js'
import { isProcessAlive, SpillDirectory } from './spill.js'
import type { FromStoreWorker, StoreWorkerData, ToStoreWorker } from './worker-protocol.js'

const STATS_EVERY_MS = 500
const CLOSE_DEADLINE_MS = 10_000 // at stop, how long the store may take before the rest is spilled (the main thread waits 15 s)

/** What the main thread may call by name: the operations of every client of the store. */
const OPERATIONS = indexOperations([RECORD_OPERATIONS, GROUND_TRUTH_OPERATIONS, SENT_IN_OPERATIONS, LIFECYCLE_OPERATIONS, COMPARE_OPERATIONS, ROUTE_REVISION_OPERATIONS, CANARY_OPERATIONS, DRIFT_OPERATIONS])

const data = workerData as StoreWorkerData
let privacy: PrivacyByModel = data.privacy
let isLowered = false
const send = (m: FromStoreWorker): void => parentPort!.postMessage(m)
const logger = createLogger(data.logLevel)
const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void => logger[level](message, fields)

/** The profiles the writer counts drift rollups with, and their rebuilds (drift/drift-rollups.ts). */
const driftRollups = new DriftRollups()
/** Calls that set a profile: the writer must count in its bins from then on. */
const SETS_PROFILE = new Set([DRIFT_OPERATIONS.putProfile.name, DRIFT_OPERATIONS.putProfileIfAbsent.name])

const delivery = new Delivery({
  connect: async () => {
    const store = await openStore(data.store)
    try {
      await store.migrate()
      await driftRollups.attach(store) // before the first batch: each is counted with the profiles in force
    } catch (err) {
      await store.close().catch(() => {})
      throw err
    }
    return store
  },
  spill: new SpillDirectory(data.spillDir),
  maxBuffered: data.maxBuffered,
  log,
})

const journals = new JournalCleaner((file, err) => log('warn', 'a delivered journal file could not be deleted', { file, err: String(err) }))

/**
 * One chunk's events to rows, into delivery. `bootId` is the boot id of the process that
 * numbered them; `place` where the chunk lies in the journal (null when it could not be
 * written there), so that its file is deleted once every row is handled.
 */
function deliverChunk(bytes: Uint8Array, bootId: string, place: JournalPlace | null, finishesEarlier: boolean): void {
  const { events, corrupt } = decodeEvents(bytes)
  // cannot happen for events the gateway encoded; counted and kept, never silent
  if (corrupt !== null) delivery.unreadable(Buffer.from(bytes.buffer, bytes.byteOffset + corrupt.offset, Math.min(bytes.byteLength - corrupt.offset, 7_500)).toString('base64'), corrupt)
  const rows: StoredInference[] = []
  for (const e of events) {
    try {
      for (const row of expandEvent(e, { privacy: privacy[e.model], hashKey: data.hashKey, bootId })) rows.push(row)
    } catch (err) {
      delivery.unreadable(JSON.stringify(e), err)
    }
  }
  delivery.add(rows, place === null ? undefined : journals.chunk(place.file, finishesEarlier))
}

/** Journal files left by processes that are gone: their records may never have reached the store. */
async function recoverJournals(): Promise<void> {
  const own = data.recoverFiles.map((file) => ({ file, bootId: data.bootId }))
  for (const { file, bootId } of [...own, ...orphanJournals(data.spillDir, (pid) => !isProcessAlive(pid), data.bootId)]) {
    let chunks = 0
    try {
      for (const { place } of journalFrames(file)) {
        deliverChunk(readJournalPlace(place), bootId, place, false)
        chunks++
        await new Promise((resolve) => setImmediate(resolve)) // the live records go on meanwhile
      }
    } catch (err) {
      log('error', 'a journal file left by an earlier process cannot be read; it is kept', { file, err: String((err as Error)?.message ?? err) })
      continue
    }
    journals.finish(file)
    log('info', 'delivering the records of an earlier process\'s journal', { file, chunks })
  }
}

/** The store with every record received so far in it; throws StoreUnavailable when it is down. */
async function caughtUpStore(): Promise<Store> {
  const drained = await delivery.drain()
  const store = delivery.store
  if (!drained || store === null) throw new StoreUnavailable('the inference log store is unavailable; try again shortly')
  return store
}

/** Inferences sent in go to the store through the same writer as the served ones (sent-in.ts). */
const sentInWriter: SentInWriter = {
  caughtUp: caughtUpStore,
  deliver: (rows) => new Promise((resolve) => delivery.add(rows, resolve)),
  context: (model) => ({ privacy: privacy[model], hashKey: data.hashKey }),
}
const TASKS = new Map([[SENT_IN_TASK.name, (model: string, items: SentInItem[]) => addSentIn(sentInWriter, model, items)]])

/**
 * From the first live records on, the worker runs only when a core is free. Not before: opening
 * the store, migrating it and the lifecycle's first calls are what the gateway waits for to
 * start, and at idle priority on a busy machine they took ten seconds. The request thread puts
 * the priority back for the stop (inference-log.ts).
 */
function lowerPriority(): void {
  isLowered = true
  const lowered = runOnlyWhenIdle()
  send({ code: 'PRIORITY', lowered })
  log('info', 'the store worker runs when a core is free from now on, unless hurried', { priority: lowered.priority })
}

const taken = { events: 0, bytes: 0 }
let lastStats = ''
const sendStats = (): void => {
  lastStats = `${JSON.stringify(delivery.stats)} ${taken.bytes}`
  send({ code: 'STATS', stats: delivery.stats, taken })
}
const statsTimer = setInterval(() => {
  if (`${JSON.stringify(delivery.stats)} ${taken.bytes}` !== lastStats) sendStats()
}, STATS_EVERY_MS)

parentPort!.on('message', (m: ToStoreWorker) => {
  switch (m.code) {
    case 'EVENTS': {
      if (!isLowered) lowerPriority()
      taken.events += m.events
      taken.bytes += m.bytes
      if (m.chunk === null) {
        // the request thread sent only where the chunk lies: this worker was far behind
        deliverChunk(readJournalPlace(m.place!), data.bootId, m.place, true)
        return
      }
      deliverChunk(new Uint8Array(m.chunk, 0, m.bytes), data.bootId, m.place, true)
      parentPort!.postMessage({ code: 'CHUNK_BACK', chunk: m.chunk } satisfies FromStoreWorker, [m.chunk]) // every string was copied out
      return
    }
    case 'PRIVACY':
      privacy = m.privacy
      return
    case 'CALL':
      void answerCall(m, caughtUpStore, OPERATIONS, TASKS).then(async (reply) => {
        if (reply.ok && m.call.kind === 'run' && SETS_PROFILE.has(m.call.name)) {
          await driftRollups.refresh().catch((err) => log('warn', 'the drift rollups could not take the new profile; drift counts the records until the next', { err: String((err as Error)?.message ?? err) }))
        }
        sendStats() // first: a caller who just flushed sees figures that include its records
        send(reply)
      })
      return
    case 'CLOSE':
      clearInterval(statsTimer)
      journals.finishAll() // the request thread sends nothing more; each file goes once its rows are handled
      delivery.close(CLOSE_DEADLINE_MS).finally(() => send({ code: 'CLOSED', stats: delivery.stats }))
      return
    default:
      throw new Error(`store worker: unexpected message ${JSON.stringify(m satisfies never)}`)
  }
})

log('info', 'the store worker started')
void delivery.pump() // connect, migrate and deliver what an earlier run spilled
void recoverJournals()
