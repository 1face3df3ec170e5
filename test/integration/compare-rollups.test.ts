/**
 * Issue #18 (point 4): the comparison and the timeseries answer from rollups the store keeps
 * as it writes, and must equal the full computation over the records (compare-sql.ts), on both
 * real stores: for windows aligned to minutes and not, with records stored twice, shadows
 * stored before their primary, records stored after their ground truth, ground truth replaced
 * later, and rollups built by the migration from records stored before it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildComparison } from '../../src/compare/compare.js'
import { compareAggregates, timeseriesFromRecords } from '../../src/compare/compare-sql.js'
import type { CompareFilter, CompareRaw, TimeseriesRow } from '../../src/compare/compare-sql.js'
import { compareFromRollups, timeseries } from '../../src/compare/compare-rollups.js'
import { addGroundTruth } from '../../src/inference-log/ground-truth.js'
import { MIGRATIONS, migrationSql, SCHEMA_VERSION } from '../../src/store/migrations.js'
import { INSERT_COLUMNS } from '../../src/store/query-sql.js'
import type { GroundTruthItem, InferenceRole, StoredInference } from '../../src/store/records.js'
import type { Store } from '../../src/store/store.js'
import { SeededRandom } from '../../src/sample-data/random.js'
import { STORES } from './stores.js'

const T0 = Date.parse('2026-11-01T00:00:17Z') // 17 s into a minute
const SPAN_MS = 20 * 60_000
const CASES = 2_000
const MINUTE = 60_000
const M0 = T0 - 17_000 // the minute T0 falls in

/** Windows aligned to minutes and not, open at either end, and one inside a single minute. */
const WINDOWS: readonly Omit<CompareFilter, 'model'>[] = [
  {},
  { since: T0 + 37_123 },
  { until: M0 + 9 * MINUTE + 5_000 },
  { since: M0 + MINUTE + 1_000, until: M0 + 15 * MINUTE + 30_500 },
  { since: M0 + 2 * MINUTE, until: M0 + 3 * MINUTE },
  { since: M0 + 4 * MINUTE + 10, until: M0 + 4 * MINUTE + 900 },
]

interface Data {
  /** Batches in the order they are written (some twice), then ground truth, late records, more ground truth. */
  readonly early: StoredInference[][]
  readonly truth1: Record<string, GroundTruthItem[]>
  readonly late: StoredInference[]
  readonly truth2: Record<string, GroundTruthItem[]>
}

function makeData(): Data {
  const rnd = new SeededRandom(18)
  const records: StoredInference[] = []
  let n = 0
  const record = (model: string, id: string, ts: number, version: string, role: InferenceRole, label: string | null, score: number | null, failed: boolean): StoredInference => ({
    record_id: `rec-${n++}`, inference_id: id, ts, server_ts: ts, model, version, route: model, reason: 'split', role, sticky_hash: null, inputs: '{}',
    outputs: failed ? null : '{}', latency_ms: 0.05 + rnd.next() ** 3 * 80, status: failed ? 500 : 200, error_code: failed ? 'INFERENCE_FAILED' : null,
    revision: 1, attributes: null, predicted_label: failed ? null : label, score: failed ? null : score,
  })
  const classes = ['a', 'b', 'c']
  for (let i = 0; i < CASES; i++) {
    const ts = T0 + Math.floor((i * SPAN_MS) / CASES)
    const score = () => (rnd.next() < 0.02 ? null : rnd.next())
    const binary = (s: number | null) => (s === null ? (rnd.next() < 0.5 ? null : '1') : s >= 0.5 ? '1' : '0')
    const s1 = score()
    records.push(record('m', `m-${i}`, ts, rnd.next() < 0.7 ? 'v1' : 'v2', 'primary', binary(s1), s1, i % 31 === 0))
    // a shadow a few ms later: some fall in the next minute
    if (i % 10 < 3) {
      const s = score()
      records.push(record('m', `m-${i}`, ts + Math.floor(rnd.next() * 40), 'v3', 'shadow', binary(s), s, i % 43 === 0))
    }
    if (i % 10 === 5) {
      const s = score()
      records.push(record('m', `m-${i}`, ts, 'v4', 'challenger', binary(s), s, false))
    }
    const value = rnd.next() * 100
    records.push(record('r', `r-${i}`, ts, 'v1', 'primary', null, i % 29 === 0 ? null : value, i % 37 === 0))
    records.push(record('c', `c-${i}`, ts, rnd.next() < 0.5 ? 'v1' : 'v2', 'primary', classes[Math.floor(rnd.next() * 3)], rnd.next(), false))
  }
  // every 17th case's shadow goes in before its primary; a record of a truth-to-be goes in late
  const isLate = (r: StoredInference) => r.model === 'm' && r.role === 'challenger' && Number(r.inference_id.slice(2)) % 20 === 5
  const early = records.filter((r) => !isLate(r))
  const order = [...early.filter((r) => r.role === 'shadow' && Number(r.inference_id.slice(2)) % 17 === 0), ...early.filter((r) => !(r.role === 'shadow' && Number(r.inference_id.slice(2)) % 17 === 0))]
  const batches: StoredInference[][] = []
  for (let k = 0; k < order.length; k += 250) batches.push(order.slice(k, k + 250))
  batches.splice(7, 0, batches[5].slice(100, 300)) // a batch sent again: its records are stored once
  const truth = (share: number, labels: (i: number) => Omit<GroundTruthItem, 'inference_id' | 'ts'>) => {
    const items = (model: string) => Array.from({ length: CASES }, (_, i) => i).filter(() => rnd.next() < share).map((i) => ({ inference_id: `${model}-${i}`, ts: T0, ...labels(i) }))
    return {
      m: items('m').map((t, k) => ({ ...t, label: [rnd.next() < 0.4 ? '1' : '0', 'true', 'false', null][k % 7 === 0 ? 1 + (k % 3) : 0] })),
      r: items('r').map((t) => ({ ...t, label: null, value: rnd.next() * 100 })),
      c: items('c').map((t) => ({ ...t, label: classes[Math.floor(rnd.next() * 3)] })),
    }
  }
  return { early: batches, truth1: truth(0.4, () => ({ label: null, value: null })), late: records.filter(isLate), truth2: truth(0.3, () => ({ label: null, value: null })) }
}

async function write(store: Store, data: Data): Promise<void> {
  for (const batch of data.early) await store.insert(batch)
  for (const [model, items] of Object.entries(data.truth1)) await store.run(addGroundTruth(model, items))
  await store.insert(data.late)
  for (const [model, items] of Object.entries(data.truth2)) await store.run(addGroundTruth(model, items))
}

/** Rows summed by key, zero rows left out, sorted: the rollups and the full computation give the same rows in other groupings. */
function canonical(raw: CompareRaw): Record<string, Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, Record<string, number>>> = {}
  const fold = (part: string, rows: readonly object[], keys: readonly string[]) => {
    const sums: Record<string, Record<string, number>> = {}
    for (const row of rows as Record<string, unknown>[]) {
      const k = keys.map((c) => JSON.stringify(row[c])).join(' ')
      const into = (sums[k] ??= {})
      for (const [c, v] of Object.entries(row)) if (!keys.includes(c)) into[c] = (into[c] ?? 0) + (v as number)
    }
    out[part] = Object.fromEntries(Object.entries(sums).filter(([, s]) => Object.values(s).some((v) => Math.abs(v) > 1e-9)).sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  fold('traffic', raw.traffic, ['version', 'role', 'ok', 'bucket'])
  fold('predictions', raw.predictions, ['version', 'role', 'predicted', 'bin'])
  fold('judged', raw.judged, ['version', 'role', 'truth', 'predicted'])
  fold('scores', raw.scores, ['version', 'role', 'bin'])
  fold('agreement', raw.agreement, ['version', 'role'])
  return out
}

/** Counts exactly, sums of doubles to 1e-9 of their size: the order of addition differs. */
function expectClose(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isInteger(expected) && Number.isInteger(actual)) expect(actual, path).toBe(expected)
    else expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)))
    return
  }
  if (typeof expected !== 'object' || expected === null) return void expect(actual, path).toEqual(expected)
  expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort())
  for (const [k, v] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[k], v, `${path}.${k}`)
}

async function expectRollupsEqualFull(store: Store): Promise<void> {
  for (const model of ['m', 'r', 'c']) {
    for (const w of WINDOWS) {
      const f = { model, ...w }
      const full = await store.run(compareAggregates(f), 'read')
      const rollups = await store.run(compareFromRollups(f), 'read')
      expect(full.traffic.length, `${model} ${JSON.stringify(w)} has records`).toBeGreaterThan(0)
      expectClose(canonical(rollups), canonical(full), `${model} ${JSON.stringify(w)}`)
      const options = { task: null, weights: new Map([['v1', 70]]), pair: ['v1', 'v2'] as [string, string], metric: null }
      expectClose(buildComparison(rollups, options), buildComparison(full, options), `${model} ${JSON.stringify(w)} report`)
    }
  }
}

const points = (rows: readonly TimeseriesRow[]) => Object.fromEntries(rows.map((r) => [`${r.t} ${r.version} ${r.role}`, r]))

describe.each(Object.keys(STORES))('the comparison from rollups in %s', (kind) => {
  const data = makeData()
  let store: Store
  let cleanup: () => Promise<void>

  beforeAll(async () => {
    ;({ store, cleanup } = await STORES[kind]())
    await store.migrate()
    await write(store, data)
  }, 120_000)
  afterAll(() => cleanup())

  it('equals the full computation over every window, after late records and ground truth replaced', async () => {
    await expectRollupsEqualFull(store)
    // the data holds what it claims: pairs found from both sides, truths replaced, records after their truth
    const agreement = (await store.run(compareAggregates({ model: 'm' }), 'read')).agreement
    expect(agreement.find((a) => a.version === 'v3')!.compared).toBeGreaterThan(500)
    const replaced = data.truth2.m.filter((t) => data.truth1.m.some((o) => o.inference_id === t.inference_id && o.label !== t.label))
    expect(replaced.length).toBeGreaterThan(50)
    expect(data.late.filter((r) => data.truth1.m.some((t) => t.inference_id === r.inference_id)).length).toBeGreaterThan(10)
  }, 120_000)

  it('gives the timeseries of the full computation for buckets of whole minutes', async () => {
    for (const bucketMs of [60_000, 300_000]) {
      for (const w of WINDOWS.filter((w) => w.since !== undefined)) {
        const f = { model: 'm', ...w }
        expectClose(points(await store.run(timeseries(f, bucketMs), 'read')), points(await store.run(timeseriesFromRecords(f, bucketMs), 'read')), `${bucketMs} ${JSON.stringify(w)}`)
      }
    }
  }, 60_000)
})

describe.each(Object.keys(STORES))('the migration that adds the rollups in %s', (kind) => {
  it('builds them from the records and ground truth stored before it', async () => {
    const data = makeData()
    const { store, tamper, cleanup } = await STORES[kind]()
    try {
      // a store as the release before left it: records and ground truth, no rollups
      const bigint = kind === 'sqlite' ? 'INTEGER' : 'BIGINT'
      await tamper(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${bigint} NOT NULL)`)
      const added = MIGRATIONS.find((m) => m.name.startsWith('rollups'))!
      for (const m of MIGRATIONS.filter((m) => m.version < added.version)) {
        await tamper(migrationSql(m, store.dialect.name))
        await tamper(`INSERT INTO schema_migrations VALUES (${m.version}, 'before', 0)`)
      }
      const literal = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replaceAll("'", "''")}'`)
      const rows = [...new Map([...data.early.flat(), ...data.late].map((r) => [r.record_id, r])).values()]
      for (let k = 0; k < rows.length; k += 500) {
        await tamper(`INSERT INTO inferences (${INSERT_COLUMNS.join(', ')}) VALUES ${rows.slice(k, k + 500).map((r) => `(${INSERT_COLUMNS.map((c) => literal(r[c])).join(', ')})`).join(', ')}`)
      }
      for (const [model, items] of Object.entries(data.truth1)) {
        const last = new Map([...items, ...data.truth2[model]].map((t) => [t.inference_id, t]))
        await tamper(`INSERT INTO ground_truth (model, inference_id, label, value, ts, received_at) VALUES ${[...last.values()].map((t) => `(${[model, t.inference_id, t.label, t.value, t.ts, 0].map(literal).join(', ')})`).join(', ')}`)
      }
      expect(await store.migrate()).toBe(SCHEMA_VERSION)
      await expectRollupsEqualFull(store)
    } finally {
      await cleanup()
    }
  }, 120_000)
})
