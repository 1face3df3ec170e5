/**
 * Issue #13 (point 0): the SQLite WAL file grew to 164 MB by 10,000 records. 20,000 records
 * written through the store in the small commits a lightly loaded gateway makes, while another
 * process reads the same file and keeps a read transaction open most of the time (as a long
 * comparison or `switchyard export` does); the -wal file must stay under the stated bound.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import type { StoredInference } from '../../src/store/records.js'
import { SqliteStore, WAL_MAX_BYTES } from '../../src/store/sqlite-store.js'
import { countInferences } from '../../src/store/query-sql.js'

const RECORDS = 20_000
const ROWS_A_COMMIT = 10 // a commit each flush interval at a few hundred requests a second
const READ_HOLD_MS = 50 // the reader's transaction: open this long, then closed for READ_GAP_MS
const READ_GAP_MS = 2
const REPO = new URL('../../', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'switchyard-wal-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const INPUTS = JSON.stringify({ limit_bal: 50_000, sex: 2, education: 2, marriage: 1, age: 35, pay_0: 0, pay_2: 0, bill_amt1: 12_345.6, bill_amt2: 12_000, pay_amt1: 1_000, pay_amt2: 1_000 })
const record = (n: number): StoredInference => ({
  record_id: `wal-${n}`, inference_id: `i-${n}`, ts: 1_796_000_000_000 + n, server_ts: 1_796_000_000_000 + n, model: 'credit-risk', version: n % 2 ? 'v1' : 'v2',
  route: 'credit-risk', reason: 'split', role: 'primary', sticky_hash: null, inputs: INPUTS, outputs: '{"label":0,"probability":0.2709}',
  latency_ms: 1.3, status: 200, error_code: null, revision: 1, attributes: null, predicted_label: '0', score: 0.2709,
})

/** Another process on the same file, in a read transaction READ_HOLD_MS out of every READ_HOLD_MS + READ_GAP_MS; prints its reads. */
function startReader(path: string) {
  const child = spawn(process.execPath, ['-e', `
    const db = require('better-sqlite3')(${JSON.stringify(path)}, { readonly: true })
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
    const [begin, count, commit] = [db.prepare('BEGIN'), db.prepare('SELECT count(*) FROM inferences').pluck(), db.prepare('COMMIT')]
    for (let reads = 1; ; reads++) {
      begin.run(); count.get(); sleep(${READ_HOLD_MS}); commit.run()
      if (reads % 5 === 0) require('node:fs').writeSync(1, reads + '\\n')
      sleep(${READ_GAP_MS})
    }`], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
  let reads = 0
  child.stdout.on('data', (b: Buffer) => {
    reads = Number(b.toString().trim().split('\n').pop())
  })
  return { reads: () => reads, stop: () => new Promise((resolve) => child.once('exit', resolve).kill('SIGKILL')) }
}

it(`keeps the -wal file under ${WAL_MAX_BYTES >> 20} MiB through ${RECORDS} records with a reader on the file`, async () => {
  const path = join(dir, 'log.db')
  const store = new SqliteStore(path)
  await store.migrate()
  const reader = startReader(path)
  let largestBytes = 0
  try {
    while (reader.reads() === 0) await new Promise((r) => setTimeout(r, 10))
    for (let n = 0; n < RECORDS; n += ROWS_A_COMMIT) {
      await store.insert(Array.from({ length: ROWS_A_COMMIT }, (_, k) => record(n + k)))
      largestBytes = Math.max(largestBytes, statSync(`${path}-wal`).size)
      await new Promise((r) => setImmediate(r))
    }
    expect(reader.reads()).toBeGreaterThan(5) // it was reading all along
  } finally {
    await reader.stop()
    await store.close()
  }
  expect(await new SqliteStore(path, { readonly: true }).run(countInferences(), 'read')).toBe(RECORDS)
  expect(largestBytes).toBeLessThan(WAL_MAX_BYTES)
}, 120_000)
