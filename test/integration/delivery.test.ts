/**
 * Issue #4, "nothing lost": rows that arrive while a batch is being inserted (PostgreSQL
 * inserts are asynchronous) may overflow the buffer and spill; the spill must take rows that
 * are only in memory, never the batch being inserted in their place.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Delivery } from '../../src/inference-log/delivery.js'
import type { StoredInference } from '../../src/inference-log/event.js'
import { SpillDirectory } from '../../src/inference-log/spill.js'
import { SqliteStore } from '../../src/inference-log/sqlite-store.js'
import type { InferenceStore } from '../../src/inference-log/store.js'
import { eventually } from './helpers.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-delivery-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

function row(i: number): StoredInference {
  return {
    record_id: `r-${String(i).padStart(4, '0')}`, inference_id: `i-${i}`, ts: 1_000 + i, server_ts: 1_000 + i, model: 'm', version: 'v1',
    route: null, reason: null, role: 'direct', sticky_hash: null, inputs: '{"a":1}', outputs: '{"label":0}', latency_ms: 1, status: 200,
    error_code: null, revision: null, attributes: null, predicted_label: '0', score: null,
  }
}

/** The real SQLite store, whose inserts wait until `release()` is called (a slow PostgreSQL). */
async function gatedStore(): Promise<{ store: InferenceStore; release(): void; sqlite: SqliteStore }> {
  const sqlite = new SqliteStore(join(dir, 'log.db'))
  await sqlite.migrate()
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const store = new Proxy(sqlite, {
    get(target, prop) {
      if (prop === 'insert') return async (rows: readonly StoredInference[]) => { await gate; return target.insert(rows) }
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as InferenceStore
  return { store, release, sqlite }
}

describe('delivery while a batch is being inserted', () => {
  it('spills only rows waiting in memory, and every row ends up in the store exactly once', async () => {
    const { store, release, sqlite } = await gatedStore()
    const handled: number[] = []
    const delivery = new Delivery({ connect: async () => store, spill: new SpillDirectory(join(dir, 'spill')), maxBuffered: 10, log: () => {} })
    delivery.add([0, 1, 2, 3, 4].map(row), () => handled.push(0)) // taken at once: its insert waits at the gate
    await new Promise((r) => setTimeout(r, 20))
    delivery.add(Array.from({ length: 20 }, (_, i) => row(5 + i)), () => handled.push(1)) // 20 > 10: the 10 oldest waiting spill
    expect(delivery.stats.spilled).toBe(10)
    expect(handled).toEqual([]) // the first batch is neither stored nor spilled yet
    release()
    await eventually(async () => expect(await sqlite.count()).toBe(25))
    await delivery.drain()
    const ids = (await sqlite.query({ model: 'm', limit: 100, order: 'asc' })).map((r) => r.record_id)
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => row(i).record_id))
    expect(handled.sort()).toEqual([0, 1])
    await delivery.close(1_000)
  })
})

describe('delivery when even the spill fails', () => {
  it('counts the rows as dropped but does not report them handled, so that the journal keeps them for the next start', async () => {
    const notADirectory = join(dir, 'spill')
    writeFileSync(notADirectory, '') // the spill directory cannot be made
    const handled: number[] = []
    const delivery = new Delivery({ connect: async () => Promise.reject(new Error('ECONNREFUSED')), spill: new SpillDirectory(notADirectory), maxBuffered: 10, log: () => {} })
    delivery.add(Array.from({ length: 20 }, (_, i) => row(i)), () => handled.push(0))
    await delivery.close(100)
    expect(delivery.stats.dropped).toBe(20)
    expect(handled).toEqual([])
  })
})
