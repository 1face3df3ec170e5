/**
 * npm run bench:compare: GET /v1/models/{model}/compare's store work over a million records,
 * on SQLite and on PostgreSQL (when SWITCHYARD_BENCH_PG or the test server is reachable).
 *
 * Reference, measured on the same data in the same run: one full scan that counts and sums
 * (SELECT count(*), sum(latency_ms) ... for the model), the least any aggregate over those
 * records can cost. Reported: the comparison's time, the scan's, and their ratio; medians of RUNS.
 * Knobs: RECORDS (1,000,000), RUNS (5).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { buildComparison } from '../src/compare/compare.js'
import { compareAggregates } from '../src/compare/compare-sql.js'
import type { StoredInference } from '../src/store/records.js'
import { newInferenceId } from '../src/inference-id.js'
import { openStore } from '../src/store/open-store.js'
import type { Store } from '../src/store/store.js'
import { SeededRandom } from '../src/sample-data/random.js'
import { addGroundTruth } from '../src/inference-log/ground-truth.js'

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 5)
const PG_SERVER = process.env.SWITCHYARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
const BATCH = 5_000

function* batches(): Generator<StoredInference[]> {
  const rnd = new SeededRandom(1)
  const t0 = Date.parse('2026-11-01T00:00:00Z')
  let batch: StoredInference[] = []
  for (let i = 0; i < RECORDS; i++) {
    const caseNo = Math.floor(i / 2) // each case scored by the champion and a challenger
    const role = i % 2 === 0 ? 'primary' : 'challenger'
    const score = rnd.next()
    batch.push({
      record_id: newInferenceId(), inference_id: `case-${caseNo}`, ts: t0 + caseNo * 10, server_ts: t0 + caseNo * 10, model: 'credit-risk',
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

async function measure(name: string, store: Store, scan: () => Promise<unknown>, analyze: () => Promise<unknown>): Promise<string> {
  await store.migrate()
  const loadStart = performance.now()
  for (const batch of batches()) await store.insert(batch)
  const truth = Array.from({ length: Math.floor(RECORDS / 4) }, (_, i) => ({ inference_id: `case-${i}`, label: String(i % 3 === 0 ? 1 : 0), value: null, ts: 0 }))
  for (let i = 0; i < truth.length; i += 20_000) await store.run(addGroundTruth('credit-risk', truth.slice(i, i + 20_000)))
  const loadS = (performance.now() - loadStart) / 1000
  await analyze() // what autovacuum (PostgreSQL) and PRAGMA optimize (SQLite) do for a table that has grown this much
  const compareMs: number[] = []
  const scanMs: number[] = []
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now()
    await scan()
    scanMs.push(performance.now() - t)
    t = performance.now()
    const raw = await store.run(compareAggregates({ model: 'credit-risk' }), 'read')
    buildComparison(raw, { task: 'binary-classification', weights: new Map([['v1', 100]]), pair: ['v1', 'v3'], metric: 'auc' })
    compareMs.push(performance.now() - t)
  }
  const c = median(compareMs)
  const s = median(scanMs)
  return `| ${name} | ${RECORDS.toLocaleString('en')} | ${loadS.toFixed(1)} | ${c.toFixed(0)} | ${s.toFixed(0)} | ${(c / s).toFixed(2)} | ${compareMs.map((x) => x.toFixed(0)).join(', ')} |`
}

async function main(): Promise<void> {
  const lines = [
    `# Comparison over the inference log (RECORDS=${RECORDS}, RUNS=${RUNS}; a quarter of the cases have ground truth)`,
    '',
    '| store | records | load s | compare ms (median) | full-scan reference ms | ratio | compare ms each run |',
    '|---|---:|---:|---:|---:|---:|---|',
  ]
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-compare-'))
  try {
    const path = join(dir, 'log.db')
    const sqlite = await openStore({ kind: 'sqlite', path })
    const reader = () => new Database(path, { readonly: true })
    lines.push(await measure('SQLite', sqlite, async () => {
      const db = reader()
      try {
        return db.prepare("SELECT count(*), sum(latency_ms) FROM inferences WHERE model = 'credit-risk'").get()
      } finally {
        db.close()
      }
    }, async () => {
      const db = new Database(path)
      try {
        db.exec('ANALYZE')
      } finally {
        db.close()
      }
    }))
    await sqlite.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const name = `switchyard_bench_${process.pid}`
  const admin = new pg.Client({ connectionString: PG_SERVER })
  try {
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    const url = new URL(PG_SERVER)
    url.pathname = `/${name}`
    const store = await openStore({ kind: 'postgres', url: url.toString() })
    const client = new pg.Client({ connectionString: url.toString() })
    await client.connect()
    try {
      lines.push(await measure('PostgreSQL', store, () => client.query("SELECT count(*), sum(latency_ms) FROM inferences WHERE model = 'credit-risk'"), () => client.query('ANALYZE')))
    } finally {
      await client.end()
      await store.close()
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  } catch (err) {
    lines.push(`| PostgreSQL | not measured: ${(err as Error).message} | | | | | |`)
  } finally {
    await admin.end().catch(() => {})
  }
  process.stdout.write(lines.join('\n') + '\n')
}

await main()
