/**
 * Issue #4: `switchyard export` writes a model's records, with their ground truth, as JSON
 * lines, CSV and Parquet, from either store, with a progress bar on stderr. Parquet is read
 * back with an independent reader (hyparquet).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StoredInference } from '../../src/store/records.js'
import { newInferenceId } from '../../src/inference-id.js'
import { EXPORT_COLUMNS } from '../../src/inference-log/export-writers.js'
import { openStore } from '../../src/store/open-store.js'
import { createTestDatabase } from '../integration/postgres.js'
import { addGroundTruth } from '../../src/inference-log/ground-truth.js'

const run = promisify(execFile)
const root = new URL('../..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'switchyard-export-'))
const T0 = Date.parse('2026-11-01T00:00:00Z')
const RECORDS = 2_345 // more than two pages

function rows(): StoredInference[] {
  return Array.from({ length: RECORDS }, (_, i) => ({
    record_id: newInferenceId(), inference_id: `e-${i}`, ts: T0 + i * 60_000, server_ts: T0 + i * 60_000,
    model: 'credit-risk', version: i % 3 === 0 ? 'v2' : 'v1', route: 'credit-risk', reason: 'split', role: 'primary',
    sticky_hash: null, inputs: JSON.stringify({ age: 20 + (i % 50), note: 'comma, "quote"' }), outputs: JSON.stringify({ label: i % 2, probability: (i % 100) / 100 }),
    latency_ms: 0.5, status: 200, error_code: null, revision: 1, attributes: null, predicted_label: String(i % 2), score: (i % 100) / 100,
  }))
}

/** A minimal RFC 4180 reader: enough to check the export's quoting. */
function parseCsv(text: string): string[][] {
  const out: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++
      else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') row.push(cell), (cell = '')
    else if (ch === '\r' && text[i + 1] === '\n') row.push(cell), out.push(row), (row = []), (cell = ''), i++
    else cell += ch
  }
  return out
}

const stores: Record<string, () => Promise<{ spec: string; cleanup(): Promise<void> }>> = {
  sqlite: async () => ({ spec: `sqlite:${join(dir, 'log.db')}`, cleanup: async () => {} }),
  postgres: async () => {
    const db = await createTestDatabase()
    return { spec: db.url, cleanup: () => db.drop() }
  },
}

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.each(Object.keys(stores))('switchyard export from %s', (kind) => {
  let spec: string
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    ;({ spec, cleanup } = await stores[kind]())
    const store = await openStore(spec.startsWith('sqlite:') ? { kind: 'sqlite', path: spec.slice(7) } : { kind: 'postgres', url: spec })
    await store.migrate()
    await store.insert(rows())
    await store.run(addGroundTruth('credit-risk', [{ inference_id: 'e-10', label: '1', value: null, ts: T0 }]))
    await store.close()
  })
  afterAll(() => cleanup())

  const exportCli = (args: string[]) => run(process.execPath, ['dist/cli.js', 'export', '--model', 'credit-risk', '--store', spec, ...args], { cwd: root, maxBuffer: 64 << 20 })

  it('writes JSON lines in time order with ground truth, and a progress bar on stderr', async () => {
    const { stdout, stderr } = await exportCli(['--format', 'jsonl'])
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(RECORDS)
    expect(lines.map((l) => l.inference_id)).toEqual(Array.from({ length: RECORDS }, (_, i) => `e-${i}`))
    expect(lines[10].ground_truth.label).toBe('1')
    expect(lines[11].ground_truth).toBeNull()
    expect(stderr).toContain(`100% ${RECORDS}/${RECORDS}`)
  })

  it('writes CSV with a header and quoted JSON cells, filtered by --since and --version', async () => {
    const out = join(dir, `${kind}.csv`)
    const since = new Date(T0 + 1000 * 60_000).toISOString()
    await exportCli(['--format', 'csv', '--out', out, '--since', since, '--version', 'v2'])
    const [header, ...body] = parseCsv(readFileSync(out, 'utf8'))
    expect(header).toEqual(EXPORT_COLUMNS)
    const expected = rows().filter((r, i) => i >= 1000 && r.version === 'v2').length
    expect(body).toHaveLength(expected)
    const inputs = JSON.parse(body[0][header.indexOf('inputs')])
    expect(inputs.note).toBe('comma, "quote"')
    expect(body.every((r) => r[header.indexOf('version')] === 'v2')).toBe(true)
  })

  it('writes Parquet that an independent reader reads back', async () => {
    const out = join(dir, `${kind}.parquet`)
    await exportCli(['--format', 'parquet', '--out', out])
    const data = await parquetReadObjects({ file: await asyncBufferFromFile(out) })
    expect(data).toHaveLength(RECORDS)
    expect(Object.keys(data[0])).toEqual(EXPORT_COLUMNS)
    expect(data[10].ground_truth_label).toBe('1')
    expect(new Date(data[5].timestamp as Date).toISOString()).toBe(new Date(T0 + 5 * 60_000).toISOString())
    expect(data[7].latency_ms).toBe(0.5)
  })

  it('refuses bad options with exit code 2 and the usage', async () => {
    await expect(exportCli(['--format', 'xlsx'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('Allowed choices are jsonl, csv, parquet') })
    await expect(exportCli(['--format', 'parquet'])).rejects.toMatchObject({ code: 2 })
    await expect(exportCli(['--since', 'last week'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--since') })
  })
})
