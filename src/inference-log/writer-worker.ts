/**
 * The inference log's writer worker: expands the events the request thread enqueued into
 * records, applies the privacy rules, and delivers them (delivery.ts). Ground truth, queries
 * and counts run here too, after the records already received, so that a caller who posts
 * ground truth right after an inference finds it.
 *
 * Once records flow it runs only when a core is free (runOnlyWhenIdle): records can wait,
 * requests cannot. What it has not handled yet is in the journal (journal.ts), and at start it
 * delivers what an earlier process's journal still holds.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { isGatewayError } from '../errors.js'
import { createLogger } from '../log.js'
import { runOnlyWhenIdle } from '../thread-priority.js'
import { compareAggregates, timeseries } from '../compare/compare-sql.js'
import { LIFECYCLE_OPERATIONS } from '../lifecycle/registry.js'
import { openStore } from '../store/open-store.js'
import type { Operation } from '../store/operation.js'
import { countInferences, queryInferences } from '../store/query-sql.js'
import type { StoredInference } from '../store/records.js'
import type { Store } from '../store/store.js'
import { Delivery } from './delivery.js'
import { decodeEvents } from './event-codec.js'
import { expandEvent } from './expand.js'
import { addGroundTruth } from './ground-truth.js'
import { JournalCleaner, journalFrames, orphanJournals, readJournalPlace } from './journal.js'
import type { JournalPlace } from './journal.js'
import type { PrivacyByModel } from './privacy.js'
import { isProcessAlive, SpillDirectory } from './spill.js'
import type { FromWriter, ToWriter, WriterCall, WriterData } from './writer-protocol.js'

const STATS_EVERY_MS = 500
const CLOSE_DEADLINE_MS = 10_000 // at stop, how long the store may take before the rest is spilled (the main thread waits 15 s)

const data = workerData as WriterData
let privacy: PrivacyByModel = data.privacy
let isLowered = false
const send = (m: FromWriter): void => parentPort!.postMessage(m)
const logger = createLogger(data.logLevel)
const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void => logger[level](message, fields)

const delivery = new Delivery({
  connect: async () => {
    const store = await openStore(data.store)
    try {
      await store.migrate()
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

class StoreUnavailable extends Error {}

/** The store with every record received so far in it; throws StoreUnavailable when it is down. */
async function caughtUpStore(): Promise<Store> {
  const drained = await delivery.drain()
  const store = delivery.store
  if (!drained || store === null) throw new StoreUnavailable('the inference log store is unavailable; try again shortly')
  return store
}

async function handle(call: WriterCall): Promise<unknown> {
  const store = await caughtUpStore()
  switch (call.op) {
    case 'groundTruth':
      return store.run(addGroundTruth(call.model, call.items))
    case 'query':
      return store.run(queryInferences(call.query), 'read')
    case 'count':
      return store.run(countInferences(call.model), 'read')
    case 'compare':
      return store.run(compareAggregates(call.filter), 'read')
    case 'timeseries':
      return store.run(timeseries(call.filter, call.bucketMs), 'read')
    case 'flush':
      return null
    case 'lifecycle': {
      const op = LIFECYCLE_OPERATIONS[call.name]
      return store.run((op.start as (...a: unknown[]) => Operation<unknown>)(...call.args), op.mode)
    }
    default:
      throw new Error(`the inference log writer got an unknown call: ${JSON.stringify(call)}`)
  }
}

/**
 * From the first live records on, the writer runs only when a core is free. Not before: opening
 * the store, migrating it and the lifecycle's first calls are what the gateway waits for to
 * start, and at idle priority on a busy machine they took ten seconds. The request thread puts
 * the priority back for the stop (inference-log.ts).
 */
function lowerPriority(): void {
  isLowered = true
  const lowered = runOnlyWhenIdle()
  send({ code: 'PRIORITY', lowered })
  log('info', 'inference log writer runs when a core is free from now on, unless hurried', { priority: lowered.priority })
}

const taken = { events: 0, bytes: 0 }
let lastStats = ''
const statsTimer = setInterval(() => {
  const text = `${JSON.stringify(delivery.stats)} ${taken.bytes}`
  if (text !== lastStats) send({ code: 'STATS', stats: delivery.stats, taken })
  lastStats = text
}, STATS_EVERY_MS)

parentPort!.on('message', (m: ToWriter) => {
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
      parentPort!.postMessage({ code: 'CHUNK_BACK', chunk: m.chunk } satisfies FromWriter, [m.chunk]) // every string was copied out
      return
    }
    case 'PRIVACY':
      privacy = m.privacy
      return
    case 'CALL':
      handle(m.call).then(
        (value) => send({ code: 'REPLY', id: m.id, ok: true, value, stats: delivery.stats, taken }),
        (err: unknown) => send({
          code: 'REPLY', id: m.id, ok: false, message: String((err as Error)?.message ?? err), unavailable: err instanceof StoreUnavailable, stats: delivery.stats, taken,
          gateway: isGatewayError(err) ? { code: err.code, status: err.status, details: err.details as Record<string, unknown> | undefined } : undefined,
        }),
      )
      return
    case 'CLOSE':
      clearInterval(statsTimer)
      journals.finishAll() // the request thread sends nothing more; each file goes once its rows are handled
      delivery.close(CLOSE_DEADLINE_MS).finally(() => send({ code: 'CLOSED', stats: delivery.stats }))
      return
    default:
      throw new Error(`the inference log writer got an unknown message: ${JSON.stringify(m)}`)
  }
})

log('info', 'inference log writer started')
void delivery.pump() // connect, migrate and deliver what an earlier run spilled
void recoverJournals()
