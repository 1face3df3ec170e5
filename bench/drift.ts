/**
 * npm run bench:drift: GET /v1/models/{model}/drift's store work (drift/drift-sql.ts driftRaw)
 * over a million records of credit-risk v1 (22 features in each record's JSON inputs, and a
 * score), against the version's reference profile (models/credit-risk/v1/reference.json), on
 * SQLite and on PostgreSQL (SWITCHYARD_BENCH_PG or the test server).
 *
 * Reported, medians of RUNS: drift over every record; drift over the last hour (what the gauge
 * measures each minute; records are 10 ms apart, so about 360,000); and a full scan that
 * counts the records and sums their latency, the least any pass over them costs.
 * Knobs: RECORDS (1,000,000), RUNS (3).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { buildDriftReport } from '../src/drift/drift.js'
import { driftRaw, putProfile } from '../src/drift/drift-sql.js'
import { ReferenceProfileSchema } from '../src/drift/profile.js'
import { newInferenceId } from '../src/inference-id.js'
import { CREDIT_FEATURES, creditRowGenerator } from '../src/sample-data/credit-default.js'
import { openStore } from '../src/store/open-store.js'
import { sql } from '../src/store/operation.js'
import type { StoredInference } from '../src/store/records.js'
import type { Store } from '../src/store/store.js'

const RECORDS = Number(process.env.RECORDS ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 3)
const PG_SERVER = process.env.SWITCHYARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
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
  const loadStart = performance.now()
  for (const batch of batches()) await store.insert(batch)
  const loadS = (performance.now() - loadStart) / 1000
  await store.run(putProfile('credit-risk', 'v1', profile, 'bench', T0))
  await store.run((function* () { yield sql('ANALYZE') })()) // what autovacuum and PRAGMA optimize do for a table grown this much
  const until = T0 + RECORDS * GAP_MS
  const drift = (since: number) => async () => {
    const request = { model: 'credit-risk', version: 'v1', since, until, reference: { kind: 'profile' as const, version: 'v1' } }
    return buildDriftReport(await store.run(driftRaw(request), 'read'), { ...request, psiThreshold: 0.2 })
  }
  const all = await timed(RUNS, drift(T0))
  const hour = await timed(RUNS, drift(until - HOUR))
  const scan = await timed(RUNS, () => store.run((function* () { yield sql("SELECT count(*), sum(latency_ms) FROM inferences WHERE model = 'credit-risk'") })(), 'read'))
  const ms = (xs: number[]) => median(xs).toFixed(0)
  return `| ${name} | ${RECORDS.toLocaleString('en')} | ${loadS.toFixed(0)} | ${ms(all)} | ${ms(hour)} | ${ms(scan)} | ${all.map((x) => x.toFixed(0)).join(', ')} |`
}

async function main(): Promise<void> {
  const lines = [
    `# Drift over the inference log (RECORDS=${RECORDS}, RUNS=${RUNS}; 22 features and the score against a profile of 10 bins each)`,
    '',
    '| store | records | load s | drift ms, every record | drift ms, last hour | full-scan reference ms | drift ms each run |',
    '|---|---:|---:|---:|---:|---:|---|',
  ]
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-drift-'))
  try {
    const sqlite = await openStore({ kind: 'sqlite', path: join(dir, 'log.db') })
    lines.push(await measure('SQLite', sqlite))
    await sqlite.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const name = `switchyard_bench_drift_${process.pid}`
  const admin = new pg.Client({ connectionString: PG_SERVER })
  try {
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    const url = new URL(PG_SERVER)
    url.pathname = `/${name}`
    const store = await openStore({ kind: 'postgres', url: url.toString() })
    try {
      lines.push(await measure('PostgreSQL', store))
    } finally {
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
