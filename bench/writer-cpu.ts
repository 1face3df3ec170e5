/**
 * The writer's CPU a record, one way against another (bench/compare.ts: rollups or none;
 * bench/drift.ts: drift rollups or none): the store worker's work on a record (events decoded,
 * expanded into rows, inserted in batches of WRITER_BATCH) timed as CPU a record in this
 * process, on two stores opened alike but for the one thing, in alternating rounds; on
 * PostgreSQL the server's backends' CPU as well (/proc). Medians of WRITER_ROUNDS.
 * Knobs: WRITER_RECORDS (a round, 50,000), WRITER_ROUNDS (7).
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { newBootId, newInferenceId } from '../src/inference-id.js'
import { EventChunkWriter, decodeEvents } from '../src/inference-log/event-codec.js'
import { expandEvent } from '../src/inference-log/expand.js'
import { SeededRandom } from '../src/sample-data/random.js'
import type { StoredInference } from '../src/store/records.js'
import type { Store } from '../src/store/store.js'

export const PG_SERVER = process.env.SWITCHYARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
export const WRITER_RECORDS = Number(process.env.WRITER_RECORDS ?? 50_000)
export const WRITER_ROUNDS = Number(process.env.WRITER_ROUNDS ?? 7)
export const WRITER_BATCH = 1_000 // rows an insert, as the store worker's delivery takes them at most
/** The features of each record's inputs: feature_0 … feature_21, numbers in [0, 10,000). */
export const WRITER_FEATURES = Array.from({ length: 22 }, (_, k) => `feature_${k}`)

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** A chunk of `n` events as the request thread packs them: one-row native predictions of the credit model. */
function eventChunk(n: number, firstSeq: number): Uint8Array {
  const rnd = new SeededRandom(firstSeq)
  const writer = new EventChunkWriter(64 << 20)
  const features = WRITER_FEATURES
  for (let k = 0; k < n; k++) {
    const id = newInferenceId()
    const body = Buffer.from(`{"instances":[{${features.map((f) => `"${f}":${Math.round(rnd.next() * 1e6) / 100}`).join(',')}}]}`)
    const p = rnd.next()
    const answer = `{"model":"credit-risk","version":"v1","role":"primary","predictions":[{"id":"${id}","label":${p >= 0.5 ? 1 : 0},"probability":${p}}]}`
    const ctx = { kind: 'predict', ids: [id], body, callerTs: null, attributes: null, route: 'credit-risk', reason: 'split', stickyHash: null, revision: 1 } as const
    writer.write(ctx, firstSeq + k, 'credit-risk', k % 10 === 0 ? 'v2' : 'v1', 'primary', 0.3 + rnd.next() * 3, answer, 200, null)
  }
  const chunk = writer.take()!
  return new Uint8Array(chunk.buffer, 0, chunk.bytes)
}

/** The store worker's work on one chunk: decode, expand, insert in batches. */
async function writeChunk(store: Store, bytes: Uint8Array, bootId: string): Promise<void> {
  const rows: StoredInference[] = []
  for (const e of decodeEvents(bytes).events) rows.push(...expandEvent(e, { privacy: undefined, hashKey: null, bootId }))
  for (let k = 0; k < rows.length; k += WRITER_BATCH) await store.insert(rows.slice(k, k + WRITER_BATCH))
}

const cpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
/** CPU µs of a PostgreSQL server's backends on one database, from /proc (the server runs here). */
export async function backendsCpuUs(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
  const tick = 1e6 / 100 // USER_HZ
  return rows.reduce((us, { pid }) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
      return us + (Number(fields[11]) + Number(fields[12])) * tick
    } catch {
      return us // a backend that ended meanwhile
    }
  }, 0)
}

/**
 * The writer's CPU a record on a store opened `open(true)` and one opened `open(false)`, in
 * alternating rounds; `serverUs` gives the database's own CPU where it is another process.
 * A table row: | name | writer, on | writer, off | server, on | server, off | each round |.
 */
export async function measureWriter(name: string, open: (isOn: boolean) => Promise<{ store: Store; serverUs: () => Promise<number>; close: () => Promise<void> }>): Promise<string> {
  const bootId = newBootId()
  const sides = { with: await open(true), without: await open(false) }
  const us: Record<'with' | 'without', { writer: number[]; server: number[] }> = { with: { writer: [], server: [] }, without: { writer: [], server: [] } }
  try {
    let seq = 0
    for (const side of Object.values(sides)) {
      await side.store.migrate()
      await writeChunk(side.store, eventChunk(WRITER_RECORDS, (seq += WRITER_RECORDS)), bootId) // tables and indexes not empty, code warm
    }
    for (let round = 0; round < WRITER_ROUNDS; round++) {
      for (const key of round % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
        const bytes = eventChunk(WRITER_RECORDS, (seq += WRITER_RECORDS))
        const server = await sides[key].serverUs()
        const start = cpuUs()
        await writeChunk(sides[key].store, bytes, bootId)
        us[key].writer.push((cpuUs() - start) / WRITER_RECORDS)
        us[key].server.push(((await sides[key].serverUs()) - server) / WRITER_RECORDS)
      }
    }
  } finally {
    for (const side of Object.values(sides)) await side.close()
  }
  const f = (xs: number[]) => median(xs).toFixed(2)
  const hasServer = us.with.server.some((x) => x > 0)
  return `| ${name} | **${f(us.with.writer)}** | ${f(us.without.writer)} | ${hasServer ? `${f(us.with.server)} | ${f(us.without.server)}` : '(in the writer) | (in the writer)'} | ${us.with.writer.map((x) => x.toFixed(2)).join(', ')} / ${us.without.writer.map((x) => x.toFixed(2)).join(', ')} |`
}

/** A fresh database on the PostgreSQL server for `work`, dropped after. */
export async function withPgDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `switchyard_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: PG_SERVER })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
    const url = new URL(PG_SERVER)
    url.pathname = `/${name}`
    return await work(url.toString())
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {})
    await admin.end().catch(() => {})
  }
}

