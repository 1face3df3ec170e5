/**
 * npm run bench:drift: GET /v1/models/{model}/drift's store work (drift/drift-raw.ts driftRaw)
 * over a million records of credit-risk v1 (22 features in each record's JSON inputs, and a
 * score), against the version's reference profile (models/credit-risk/v1/reference.json), on
 * SQLite and on PostgreSQL (SWITCHYARD_BENCH_PG or the test server).
 *
 * The records are stored first, then the profile is set: the drift rollups' rebuild counts them
 * (timed). Reported: drift from the rollups (medians of RUNS) beside the full computation over
 * the records (medians of FULL_RUNS), over every record and over the last hour (what the gauge
 * measures; records are 10 ms apart, so about 360,000); and a scan that counts the records and
 * sums their latency, the least any pass over them costs. Then the writer's CPU a record with
 * drift rollups and without (bench/writer-cpu.ts).
 * Knobs: RECORDS (1,000,000), RUNS (9), FULL_RUNS (3), WRITER_RECORDS, WRITER_ROUNDS.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { buildDriftReport } from '../src/drift/drift.js'
import { driftRaw } from '../src/drift/drift-raw.js'
import { DriftRollups } from '../src/drift/drift-rollups.js'
import { putProfile } from '../src/drift/drift-sql.js'
import { numericBins, PROFILE_FORMAT, ReferenceProfileSchema } from '../src/drift/profile.js'
import type { ReferenceProfile } from '../src/drift/profile.js'
import { SeededRandom } from '../src/sample-data/random.js'
import { newInferenceId } from '../src/inference-id.js'
import { CREDIT_FEATURES, creditRowGenerator } from '../src/sample-data/credit-default.js'
import { openStore } from '../src/store/open-store.js'
import { sql } from '../src/store/operation.js'
import type { StoredInference } from '../src/store/records.js'
import type { Store } from '../src/store/store.js'
import { backendsCpuUs, measureWriter, PG_SERVER, WRITER_BATCH, WRITER_FEATURES, WRITER_RECORDS, WRITER_ROUNDS, withPgDatabase } from './writer-cpu.js'

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 9)
const FULL_RUNS = Number(process.env.FULL_RUNS ?? 3)
const BATCH = 5_000
const T0 = Date.parse('2026-11-01T00:00:00Z')
const GAP_MS = 10
const HOUR = 3_600_000
const profile = ReferenceProfileSchema.parse(JSON.parse(readFileSync(new URL('../models/credit-risk/v1/reference.json', import.meta.url), 'utf8')))

function* batches(): Generator<StoredInference[]> {
  const rows = creditRowGenerator(5)
  let batch: StoredInference[] = []
  for (let i = 0; i < RECORDS; i++) {
    const row = rows.next().value!
    const score = Math.min(0.99, 0.05 + 0.1 * Math.max(0, row.pay_1) + row.bill_amt1 / 2_000_000)
    batch.push({
      record_id: newInferenceId(), inference_id: `case-${i}`, ts: T0 + i * GAP_MS, server_ts: T0 + i * GAP_MS, model: 'credit-risk', version: 'v1',
      route: 'credit-risk', reason: null, role: 'primary', sticky_hash: null, inputs: JSON.stringify(Object.fromEntries(CREDIT_FEATURES.map((f) => [f, row[f]]))),
      outputs: `{"label":${score >= 0.5 ? 1 : 0},"probability":${score}}`, latency_ms: 1, status: 200, error_code: null, revision: 1, attributes: null,
      predicted_label: score >= 0.5 ? '1' : '0', score,
    })
    if (batch.length === BATCH) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function timed(runs: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let r = 0; r < runs; r++) {
    const t = performance.now()
    await f()
    out.push(performance.now() - t)
  }
  return out
}

async function measure(name: string, store: Store): Promise<string> {
  await store.migrate()
  const rollups = new DriftRollups()
  await rollups.attach(store)
  const loadStart = performance.now()
  for (const batch of batches()) await store.insert(batch)
  const loadS = (performance.now() - loadStart) / 1000
  await store.run((function* () { yield sql('ANALYZE') })()) // what autovacuum and PRAGMA optimize do for a table grown this much
  const rebuildStart = performance.now()
  await store.run(putProfile('credit-risk', 'v1', profile, 'bench', T0))
  await rollups.refresh()
  await rollups.rebuilt()
  const rebuildS = (performance.now() - rebuildStart) / 1000
  const until = T0 + RECORDS * GAP_MS
  const drift = (since: number, isFull: boolean) => async () => {
    const request = { model: 'credit-risk', version: 'v1', since, until, reference: { kind: 'profile' as const, version: 'v1' }, isFull }
    const raw = await store.run(driftRaw(request), 'read')
    if (raw.source !== (isFull ? 'records' : 'rollups')) throw new Error(`drift answered from ${raw.source}`)
    return buildDriftReport(raw, { ...request, psiThreshold: 0.2 })
  }
  const all = await timed(RUNS, drift(T0, false))
  const hour = await timed(RUNS, drift(until - HOUR + 1_234, false)) // the partial first minute from the records
  const allFull = await timed(FULL_RUNS, drift(T0, true))
  const hourFull = await timed(FULL_RUNS, drift(until - HOUR + 1_234, true))
  const same = JSON.stringify(await drift(T0, false)()) === JSON.stringify(await drift(T0, true)())
  const scan = await timed(FULL_RUNS, () => store.run((function* () { yield sql("SELECT count(*), sum(latency_ms) FROM inferences WHERE model = 'credit-risk'") })(), 'read'))
  const ms = (xs: number[]) => median(xs).toFixed(xs.length > 0 && median(xs) < 100 ? 1 : 0)
  return `| ${name} | ${RECORDS.toLocaleString('en')} | ${loadS.toFixed(0)} | ${rebuildS.toFixed(0)} | **${ms(all)}** | ${ms(allFull)} | **${ms(hour)}** | ${ms(hourFull)} | ${ms(scan)} | ${same ? 'yes' : '**no**'} |`
}

/** A profile of the writer benchmark's records (writer-cpu.ts): 22 uniform features and a uniform score. */
function writerProfile(): ReferenceProfile {
  const rnd = new SeededRandom(3)
  const values = () => Array.from({ length: 3_000 }, () => Math.round(rnd.next() * 1e6) / 100)
  return { format: PROFILE_FORMAT, records: 3_000, source: 'bench', features: WRITER_FEATURES.map((f) => numericBins(f, values())), score: numericBins('score', values().map((v) => v / 10_000)) }
}

/** A store for measureWriter: with drift rollups, credit-risk v1 (nine records in ten) has a profile the writer counts in. */
async function writerStore(store: Store, isOn: boolean): Promise<Store> {
  if (!isOn) return store
  await store.migrate()
  await store.run(putProfile('credit-risk', 'v1', writerProfile(), 'bench', T0))
  await new DriftRollups().attach(store)
  return store
}

async function main(): Promise<void> {
  const lines = [
    `# Drift over the inference log (RECORDS=${RECORDS}; 22 features and the score against a profile of 10 bins each): ms, medians of RUNS=${RUNS} (rollups) and FULL_RUNS=${FULL_RUNS} (full)`,
    '',
    '| store | records | load s | rebuild s | every record, rollups | every record, full | last hour, rollups | last hour, full | full-scan reference | equal |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  const writer = [
    `The writer's CPU a record (events decoded, expanded, inserted ${WRITER_BATCH} at a time; WRITER_RECORDS=${WRITER_RECORDS} a round, WRITER_ROUNDS=${WRITER_ROUNDS}; nine records in ten of a version with a profile of 22 features): µs, medians`,
    '',
    '| store | writer, drift rollups | writer, none | database server, drift rollups | database server, none | writer each round (drift rollups / none) |',
    '|---|---:|---:|---:|---:|---|',
  ]
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-drift-'))
  try {
    const sqlite = await openStore({ kind: 'sqlite', path: join(dir, 'log.db') })
    lines.push(await measure('SQLite', sqlite))
    await sqlite.close()
    writer.push(await measureWriter('SQLite', async (isOn) => {
      const store = await writerStore(await openStore({ kind: 'sqlite', path: join(dir, `writer-${isOn}.db`) }), isOn)
      return { store, serverUs: async () => 0, close: () => store.close() }
    }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await withPgDatabase(async (url) => {
      const store = await openStore({ kind: 'postgres', url })
      try {
        lines.push(await measure('PostgreSQL', store))
      } finally {
        await store.close()
      }
    })
    await withPgDatabase((onUrl) => withPgDatabase(async (offUrl) => {
      writer.push(await measureWriter('PostgreSQL', async (isOn) => {
        const url = isOn ? onUrl : offUrl
        const store = await writerStore(await openStore({ kind: 'postgres', url }), isOn)
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        return { store, serverUs: () => backendsCpuUs(client), close: async () => (await client.end(), await store.close()) }
      }))
    }))
  } catch (err) {
    lines.push(`| PostgreSQL | not measured: ${(err as Error).message} | | | | | | | | |`)
  }
  process.stdout.write([...lines, '', ...writer].join('\n') + '\n')
}

await main()
