/**
 * The inference log's writer worker: expands the events the request thread enqueued into
 * records, applies the privacy rules, and delivers them (delivery.ts). Ground truth, queries
 * and counts run here too, after the records already received, so that a caller who posts
 * ground truth right after an inference finds it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { isGatewayError } from '../errors.js'
import type { Operation } from './operation.js'
import { LIFECYCLE_OPERATIONS } from '../lifecycle/registry.js'
import { Delivery } from './delivery.js'
import { decodeEvents } from './event-codec.js'
import type { StoredInference } from './event.js'
import { expandEvent } from './expand.js'
import { addGroundTruth } from './ground-truth.js'
import type { PrivacyByModel } from './privacy.js'
import { SpillDirectory } from './spill.js'
import { openStore } from './store.js'
import type { InferenceStore } from './store.js'
import type { FromWriter, ToWriter, WriterCall, WriterData } from './writer-protocol.js'

const STATS_EVERY_MS = 500
const CLOSE_DEADLINE_MS = 10_000 // at stop, how long the store may take before the rest is spilled (the main thread waits 15 s)

const data = workerData as WriterData
let privacy: PrivacyByModel = data.privacy
const send = (m: FromWriter): void => parentPort!.postMessage(m)
const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void => send({ code: 'LOG', level, message, fields })

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

class StoreUnavailable extends Error {}

/** The store with every record received so far in it; throws StoreUnavailable when it is down. */
async function caughtUpStore(): Promise<InferenceStore> {
  const drained = await delivery.drain()
  const store = delivery.store
  if (!drained || store === null) throw new StoreUnavailable('the inference log store is unavailable; try again shortly')
  return store
}

async function handle(call: WriterCall): Promise<unknown> {
  const store = await caughtUpStore()
  switch (call.op) {
    case 'groundTruth':
      return store.runOperation(addGroundTruth(call.model, call.items))
    case 'query':
      return store.query(call.query)
    case 'count':
      return store.count(call.model)
    case 'compare':
      return store.compareRaw(call.filter)
    case 'timeseries':
      return store.timeseries(call.filter, call.bucketMs)
    case 'flush':
      return null
    case 'lifecycle':
      return store.runOperation((LIFECYCLE_OPERATIONS[call.name] as (...a: unknown[]) => Operation<unknown>)(...call.args))
  }
}

let lastStats = ''
const statsTimer = setInterval(() => {
  const text = JSON.stringify(delivery.stats)
  if (text !== lastStats) send({ code: 'STATS', stats: delivery.stats })
  lastStats = text
}, STATS_EVERY_MS)

parentPort!.on('message', (m: ToWriter) => {
  switch (m.code) {
    case 'EVENTS': {
      const { events, corrupt } = decodeEvents(new Uint8Array(m.chunk, 0, m.bytes))
      // cannot happen for events the gateway encoded; counted and kept, never silent
      if (corrupt !== null) delivery.unreadable(Buffer.from(m.chunk, corrupt.offset, Math.min(m.bytes - corrupt.offset, 7_500)).toString('base64'), corrupt)
      const rows: StoredInference[] = []
      for (const e of events) {
        try {
          for (const row of expandEvent(e, { privacy: privacy[e.model], hashKey: data.hashKey, bootId: data.bootId })) rows.push(row)
        } catch (err) {
          delivery.unreadable(JSON.stringify(e), err)
        }
      }
      parentPort!.postMessage({ code: 'CHUNK_BACK', chunk: m.chunk } satisfies FromWriter, [m.chunk]) // every string was copied out
      delivery.add(rows)
      return
    }
    case 'PRIVACY':
      privacy = m.privacy
      return
    case 'CALL':
      handle(m.call).then(
        (value) => send({ code: 'REPLY', id: m.id, ok: true, value, stats: delivery.stats }),
        (err: unknown) => send({
          code: 'REPLY', id: m.id, ok: false, message: String((err as Error)?.message ?? err), unavailable: err instanceof StoreUnavailable, stats: delivery.stats,
          gateway: isGatewayError(err) ? { code: err.code, status: err.status, details: err.details as Record<string, unknown> | undefined } : undefined,
        }),
      )
      return
    case 'CLOSE':
      clearInterval(statsTimer)
      delivery.close(CLOSE_DEADLINE_MS).finally(() => send({ code: 'CLOSED', stats: delivery.stats }))
      return
  }
})

void delivery.pump() // connect, migrate and deliver what an earlier run spilled
