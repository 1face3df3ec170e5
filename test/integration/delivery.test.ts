/**
 * Issue #4, "nothing lost": rows that arrive while a batch is being inserted (PostgreSQL
 * inserts are asynchronous) may overflow the buffer and spill; the spill must take rows that
 * are only in memory, never the batch being inserted in their place.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Delivery } from '../../src/inference-log/delivery.js'
import type { StoredInference } from '../../src/store/records.js'
import { SpillDirectory } from '../../src/inference-log/spill.js'
import { countInferences, queryInferences } from '../../src/store/query-sql.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { Store } from '../../src/store/store.js'
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
async function gatedStore(): Promise<{ store: Store; release(): void; sqlite: SqliteStore }> {
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
  }) as Store
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
    await eventually(async () => expect(await sqlite.run(countInferences(), 'read')).toBe(25))
    await delivery.drain()
    const ids = (await sqlite.run(queryInferences({ model: 'm', limit: 100, order: 'asc' }), 'read')).map((r) => r.record_id)
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

/**
 * The real SQLite store behind a switch standing for its connection: `down` makes every insert
 * fail as an unreachable server does, `hold()` makes the next insert wait until released.
 */
async function switchableStore(): Promise<{ store: Store; sqlite: SqliteStore; setDown(down: boolean): void; hold(): { entered: Promise<void>; release(): void } }> {
  const sqlite = new SqliteStore(join(dir, 'log.db'))
  await sqlite.migrate()
  let isDown = false
  let held: { enter(): void; gate: Promise<void> } | null = null
  const store = new Proxy(sqlite, {
    get(target, prop) {
      if (prop === 'insert') {
        return async (rows: readonly StoredInference[]) => {
          const h = held
          held = null
          if (h !== null) {
            h.enter()
            await h.gate
          }
          if (isDown) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
          return target.insert(rows)
        }
      }
      if (prop === 'close') return async () => {} // the test reads the database after the delivery is closed
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as Store
  return {
    store,
    sqlite,
    setDown: (down) => (isDown = down),
    hold() {
      let enter!: () => void
      let release!: () => void
      const entered = new Promise<void>((resolve) => (enter = resolve))
      const gate = new Promise<void>((resolve) => (release = resolve))
      held = { enter, gate }
      return { entered, release }
    },
  }
}

const rows = (from: number, count: number): StoredInference[] => Array.from({ length: count }, (_, i) => row(from + i))
const spillFiles = (spillDir: string): string[] => readdirSync(spillDir).filter((f) => f.endsWith('.jsonl'))

async function storedIds(sqlite: SqliteStore): Promise<string[]> {
  return (await sqlite.run(queryInferences({ model: 'm', limit: 10_000, order: 'asc' }), 'read')).map((r) => r.record_id)
}

// Issue #14: records spilled while an earlier spill file was being replayed stayed on disk
// until a restart; the "spill files waiting" flag was cleared at the end of the replay.
describe('delivery of spill files however spilling and replaying interleave', () => {
  it('delivers a file spilled while another is being replayed, without anybody asking', async () => {
    const { store, sqlite, hold } = await switchableStore()
    const spillDir = join(dir, 'spill')
    new SpillDirectory(spillDir).append(rows(0, 10)) // left by an earlier run
    const held = hold()
    const delivery = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: () => {} })
    void delivery.pump()
    await held.entered // the replay of the earlier file is inserting
    delivery.add(rows(10, 20)) // 20 > 10: ten spill into a new file meanwhile
    expect(delivery.stats.spilled).toBe(10)
    held.release()
    await eventually(async () => expect(await sqlite.run(countInferences(), 'read')).toBe(30), 2_000)
    expect(await storedIds(sqlite)).toEqual(rows(0, 30).map((r) => r.record_id))
    expect(spillFiles(spillDir)).toEqual([])
    await delivery.close(1_000)
  })

  it('delivers what spilled before and after the store failed in the middle of a replay', async () => {
    const { store, sqlite, setDown, hold } = await switchableStore()
    const spillDir = join(dir, 'spill')
    new SpillDirectory(spillDir).append(rows(0, 2_500)) // three replay chunks
    const held = hold()
    const delivery = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: () => {} })
    void delivery.pump()
    await held.entered
    delivery.add(rows(2_500, 20)) // spilled during the replay
    setDown(true)
    held.release() // that insert fails: the store went away
    await eventually(async () => expect(delivery.stats.storeUp).toBe(false), 2_000)
    delivery.add(rows(2_520, 30)) // spilled while it is down
    setDown(false)
    await eventually(async () => expect(await sqlite.run(countInferences(), 'read')).toBe(2_550), 5_000)
    expect(await storedIds(sqlite)).toEqual(rows(0, 2_550).map((r) => r.record_id))
    expect(spillFiles(spillDir)).toEqual([])
    await delivery.close(1_000)
  })

  it('does not replay forever a file that can be neither read nor set aside', async () => {
    const { store, sqlite } = await switchableStore()
    const spillDir = join(dir, 'spill')
    new SpillDirectory(spillDir).append(rows(0, 10))
    // a directory where a spill file should be, and a full one where it would be renamed to
    const blocked = join(spillDir, `inference-log-${process.pid}-0-0.jsonl`)
    mkdirSync(blocked)
    mkdirSync(`${blocked}.unreadable`)
    writeFileSync(join(`${blocked}.unreadable`, 'x'), '')
    const errors: string[] = []
    const delivery = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: (level, message) => level === 'error' && errors.push(message) })
    await delivery.pump()
    expect(await sqlite.run(countInferences(), 'read')).toBe(10)
    expect(errors).toEqual(['a spill file cannot be read; it was set aside and the others are delivered'])
    await delivery.close(1_000)
  })
})

describe('delivery at stop', () => {
  it('delivers the spill files while the store is up', async () => {
    const { store, sqlite, hold } = await switchableStore()
    const spillDir = join(dir, 'spill')
    new SpillDirectory(spillDir).append(rows(0, 10))
    const held = hold()
    const delivery = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: () => {} })
    void delivery.pump()
    await held.entered
    delivery.add(rows(10, 20))
    held.release()
    await delivery.close(5_000)
    expect(await sqlite.run(countInferences(), 'read')).toBe(30)
    expect(spillFiles(spillDir)).toEqual([])
  })

  it('leaves them for the next start when the store is down, and logs how many records they hold', async () => {
    const { store, sqlite, setDown } = await switchableStore()
    const spillDir = join(dir, 'spill')
    setDown(true)
    const logged: { message: string; fields?: Record<string, unknown> }[] = []
    const first = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: (_, message, fields) => logged.push({ message, fields }) })
    first.add(rows(0, 30))
    await eventually(async () => expect(first.stats.storeUp).toBe(false), 2_000)
    await first.close(1_000)
    expect(logged.filter((l) => 'records_left' in (l.fields ?? {})).map((l) => l.fields!.records_left)).toEqual([30])
    expect(await sqlite.run(countInferences(), 'read')).toBe(0)

    setDown(false)
    const next = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: () => {} })
    await next.pump()
    expect(await storedIds(sqlite)).toEqual(rows(0, 30).map((r) => r.record_id))
    expect(spillFiles(spillDir)).toEqual([])
    await next.close(1_000)
  })

  it('stops replaying at the deadline when the store is too slow, and counts what is left', async () => {
    const { store, hold } = await switchableStore()
    const spillDir = join(dir, 'spill')
    new SpillDirectory(spillDir).append(rows(0, 10))
    const held = hold() // never released: an insert that does not come back
    const logged: Record<string, unknown>[] = []
    const delivery = new Delivery({ connect: async () => store, spill: new SpillDirectory(spillDir), maxBuffered: 10, log: (_, __, fields) => fields !== undefined && logged.push(fields) })
    void delivery.pump()
    await held.entered
    delivery.add(rows(10, 5))
    const started = Date.now()
    await delivery.close(200)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(logged.filter((f) => 'records_left' in f).map((f) => f.records_left)).toEqual([15])
  })
})
