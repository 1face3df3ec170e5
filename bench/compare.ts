/**
 * npm run bench:compare: GET /v1/models/{model}/compare's and /timeseries' store work over a
 * million records, on SQLite and on PostgreSQL (when SWITCHYARD_BENCH_PG or the test server is
 * reachable): as the API answers them, from the rollups (compare/compare-rollups.ts), beside
 * the full computation over the records (compare/compare-sql.ts); medians of RUNS.
 *
 * Then what keeping the rollups costs the writer (bench/writer-cpu.ts): the store worker's work on a record (events
 * decoded, expanded into rows, inserted in batches of WRITER_BATCH) timed as CPU a record in
 * this process, on two stores alike but for the rollups, in alternating rounds; on PostgreSQL
 * the server's backends' CPU as well (/proc). Medians of WRITER_ROUNDS.
 * Knobs: RECORDS (1,000,000), RUNS (5), WRITER_RECORDS (a round, 50,000), WRITER_ROUNDS (7).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { backendsCpuUs, measureWriter, WRITER_BATCH, WRITER_RECORDS, WRITER_ROUNDS, withPgDatabase } from './writer-cpu.js'
import { buildComparison } from '../src/compare/compare.js'
import { compareAggregates } from '../src/compare/compare-sql.js'
import type { StoredInference } from '../src/store/records.js'
import { newInferenceId } from '../src/inference-id.js'
import { openStore } from '../src/store/open-store.js'
import type { Store } from '../src/store/store.js'
import { SeededRandom } from '../src/sample-data/random.js'
import { addGroundTruth } from '../src/inference-log/ground-truth.js'
import { compareFromRollups, timeseries } from '../src/compare/compare-rollups.js'
import { timeseriesFromRecords } from '../src/compare/compare-sql.js'

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 5)
const BATCH = 5_000
const T0 = Date.parse('2026-11-01T00:00:00Z')

function* batches(): Generator<StoredInference[]> {
  const rnd = new SeededRandom(1)
  let batch: StoredInference[] = []
  for (let i = 0; i < RECORDS; i++) {
    const caseNo = Math.floor(i / 2) // each case scored by the champion and a challenger
    const role = i % 2 === 0 ? 'primary' : 'challenger'
    const score = rnd.next()
    batch.push({
      record_id: newInferenceId(), inference_id: `case-${caseNo}`, ts: T0 + caseNo * 10, server_ts: T0 + caseNo * 10, model: 'credit-risk',
      version: role === 'primary' ? (caseNo % 10 === 0 ? 'v2' : 'v1') : 'v3', route: 'credit-risk', reason: 'champion', role, sticky_hash: null,
      inputs: '{"limit_bal":50000,"age":35}', outputs: `{"label":${score >= 0.5 ? 1 : 0},"probability":${score}}`, latency_ms: 0.5 + rnd.next() * 3,
      status: 200, error_code: null, revision: 1, attributes: null, predicted_label: score >= 0.5 ? '1' : '0', score,
    })
    if (batch.length === BATCH) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const ms = (xs: number[]) => median(xs).toFixed(1)
const COMPARE_OPTIONS = { task: 'binary-classification', weights: new Map([['v1', 100]]), pair: ['v1', 'v3'], metric: 'auc' } as const

/** Load the records and ground truth, then time the comparison and the timeseries both ways. */
async function measure(name: string, store: Store, analyze: () => Promise<unknown>): Promise<string> {
  await store.migrate()
  const loadStart = performance.now()
  for (const batch of batches()) await store.insert(batch)
  const truth = Array.from({ length: Math.floor(RECORDS / 4) }, (_, i) => ({ inference_id: `case-${i}`, label: String(i % 3 === 0 ? 1 : 0), value: null, ts: 0 }))
  for (let i = 0; i < truth.length; i += 20_000) await store.run(addGroundTruth('credit-risk', truth.slice(i, i + 20_000)))
  const loadS = (performance.now() - loadStart) / 1000
  await analyze() // what autovacuum (PostgreSQL) and PRAGMA optimize (SQLite) do for a table that has grown this much
  const times: Record<'rollups' | 'full' | 'seriesRollups' | 'seriesFull', number[]> = { rollups: [], full: [], seriesRollups: [], seriesFull: [] }
  const timed = async (into: number[], work: () => Promise<unknown>) => {
    const t = performance.now()
    await work()
    into.push(performance.now() - t)
  }
  const filter = { model: 'credit-risk' }
  const series = { model: 'credit-risk', since: T0, until: T0 + RECORDS * 5 + 60_000 } // every record, at one point a minute
  for (let r = 0; r < RUNS; r++) {
    await timed(times.rollups, async () => buildComparison(await store.run(compareFromRollups(filter), 'read'), COMPARE_OPTIONS))
    await timed(times.full, async () => buildComparison(await store.run(compareAggregates(filter), 'read'), COMPARE_OPTIONS))
    await timed(times.seriesRollups, () => store.run(timeseries(series, 60_000), 'read'))
    await timed(times.seriesFull, () => store.run(timeseriesFromRecords(series, 60_000), 'read'))
  }
  return `| ${name} | ${RECORDS.toLocaleString('en')} | ${loadS.toFixed(1)} | **${ms(times.rollups)}** | ${ms(times.full)} | **${ms(times.seriesRollups)}** | ${ms(times.seriesFull)} | ${times.rollups.map((x) => x.toFixed(0)).join(', ')} |`
}

async function main(): Promise<void> {
  const compare = [
    `Comparison over the inference log (RECORDS=${RECORDS}, RUNS=${RUNS}; a quarter of the cases have ground truth): ms, medians`,
    '',
    '| store | records | load s | compare, rollups | compare, full | timeseries, rollups | timeseries, full | compare (rollups) each run |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
  ]
  const writer = [
    `The writer's CPU a record (events decoded, expanded, inserted ${WRITER_BATCH} at a time; WRITER_RECORDS=${WRITER_RECORDS} a round, WRITER_ROUNDS=${WRITER_ROUNDS}): µs, medians`,
    '',
    '| store | writer, rollups | writer, none | database server, rollups | database server, none | writer each round (rollups / none) |',
    '|---|---:|---:|---:|---:|---|',
  ]
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-compare-'))
  try {
    const path = join(dir, 'log.db')
    const sqlite = await openStore({ kind: 'sqlite', path })
    compare.push(await measure('SQLite', sqlite, async () => {
      const db = new Database(path)
      try {
        db.exec('ANALYZE')
      } finally {
        db.close()
      }
    }))
    await sqlite.close()
    writer.push(await measureWriter('SQLite', async (rollups) => {
      const store = await openStore({ kind: 'sqlite', path: join(dir, `writer-${rollups}.db`) }, { rollups })
      return { store, serverUs: async () => 0, close: () => store.close() }
    }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await withPgDatabase(async (url) => {
      const store = await openStore({ kind: 'postgres', url })
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        compare.push(await measure('PostgreSQL', store, () => client.query('ANALYZE')))
      } finally {
        await client.end()
        await store.close()
      }
    })
    // two databases alike but for the rollups
    await withPgDatabase((withUrl) => withPgDatabase(async (withoutUrl) => {
      writer.push(await measureWriter('PostgreSQL', async (rollups) => {
        const url = rollups ? withUrl : withoutUrl
        const store = await openStore({ kind: 'postgres', url }, { rollups })
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        return { store, serverUs: () => backendsCpuUs(client), close: async () => (await client.end(), await store.close()) }
      }))
    }))
  } catch (err) {
    compare.push(`| PostgreSQL | not measured: ${(err as Error).message} | | | | | | |`)
  }
  process.stdout.write([...compare, '', ...writer].join('\n') + '\n')
}

await main()
