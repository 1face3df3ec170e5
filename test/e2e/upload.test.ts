/**
 * Issue #18 point 1: `switchyard upload` sends inferences made elsewhere from JSON Lines, CSV
 * and Parquet files (written here by real writers) to a running gateway, in batches with a
 * progress bar; a re-run, or a run after an interrupted one, skips what is stored and says
 * how many; `switchyard ground-truth` joins outcomes from a file likewise.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parquetWriteFile } from 'hyparquet-writer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { ADMIN_TOKEN, AUTH, spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const root = new URL('../..', import.meta.url).pathname
const exec = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'switchyard-upload-'))
const T0 = Date.parse('2026-11-03T00:00:00Z')
const credit = generateCreditRows(2_500, 7).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, (r as Record<string, number>)[f]])))
const score = (i: number) => Math.round(((i * 37) % 100) / 100 * 1000) / 1000

let gw: GatewayProcess

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(root, 'dist/cli.js'), ...args], { env: { ...process.env, SWITCHYARD_URL: gw.url, SWITCHYARD_TOKEN: ADMIN_TOKEN } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** Requests of each (version, role) from the comparison. */
async function counts(): Promise<Record<string, number>> {
  const res = await fetch(`${gw.url}/v1/models/credit-risk/compare`, { headers: AUTH })
  const body = (await res.json()) as { versions: { version: string; role: string; requests: number }[] }
  return Object.fromEntries(body.versions.filter((v) => v.role === 'external').map((v) => [v.version, v.requests]))
}

beforeAll(async () => {
  gw = await spawnGateway(['--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill'), '--no-watch'])
  // JSON Lines: items as the endpoint takes them, with no version (--version gives it)
  writeFileSync(join(dir, 'batch.jsonl'), credit.map((inputs, i) =>
    JSON.stringify({ inference_id: `j-${i}`, timestamp: T0 + i * 1000, inputs, outputs: { label: score(i) >= 0.5 ? 1 : 0, probability: score(i) } })).join('\n') + '\n')
  // CSV: flat rows with a version column, an attribute with a comma and quotes, CRLF line ends
  const header = ['inference_id', 'timestamp', 'version', ...CREDIT_FEATURES, 'label', 'probability', 'attributes.note']
  const csvRow = (i: number) => [`c-${i}`, new Date(T0 + i * 1000).toISOString(), 'v10', ...CREDIT_FEATURES.map((f) => credit[i][f]), score(i) >= 0.5 ? 1 : 0, score(i), '"batch 7, ""night"""'].join(',')
  writeFileSync(join(dir, 'partial.csv'), [header.join(','), ...Array.from({ length: 700 }, (_, i) => csvRow(i))].join('\r\n') + '\r\n')
  writeFileSync(join(dir, 'full.csv'), [header.join(','), ...Array.from({ length: 1_200 }, (_, i) => csvRow(i))].join('\r\n') + '\r\n')
  // Parquet: typed columns, written by hyparquet-writer
  const n = 1_500
  parquetWriteFile({
    filename: join(dir, 'scores.parquet'),
    columnData: [
      { name: 'inference_id', data: Array.from({ length: n }, (_, i) => `p-${i}`), type: 'STRING' },
      { name: 'timestamp', data: Array.from({ length: n }, (_, i) => new Date(T0 + i * 1000)), type: 'TIMESTAMP' },
      ...CREDIT_FEATURES.map((f) => ({ name: f, data: Array.from({ length: n }, (_, i) => credit[i][f]), type: 'DOUBLE' as const })),
      { name: 'probability', data: Array.from({ length: n }, (_, i) => score(i)), type: 'DOUBLE' },
    ],
  })
  writeFileSync(join(dir, 'truth.csv'), ['inference_id,label', ...Array.from({ length: 100 }, (_, i) => `j-${i},${i % 2}`), 'never-sent,1'].join('\n') + '\n')
}, 60_000)

afterAll(async () => {
  gw?.child.kill('SIGTERM')
  await gw?.exited()
  rmSync(dir, { recursive: true, force: true })
})

describe('switchyard upload', () => {
  it('sends a JSON Lines file in batches with a progress bar, then skips all of it on a re-run', async () => {
    const first = await cli(['upload', '--model', 'credit-risk', '--version', 'v9', join(dir, 'batch.jsonl')])
    expect(first.stdout).toBe('credit-risk: 2500 records in 3 calls: 2500 stored, 0 already stored (skipped), 0 rejected\n')
    expect(first.code).toBe(0)
    expect(first.stderr).toContain('uploading to credit-risk [##############################] 100% 2500/2500')
    const again = await cli(['upload', '--model', 'credit-risk', '--version', 'v9', join(dir, 'batch.jsonl')])
    expect(again.stdout).toBe('credit-risk: 2500 records in 3 calls: 0 stored, 2500 already stored (skipped), 0 rejected\n')
    expect((await counts()).v9).toBe(2500)
  }, 60_000)

  it('resumes a CSV upload cut short: the rows stored before are skipped', async () => {
    const cut = await cli(['upload', '--model', 'credit-risk', join(dir, 'partial.csv')])
    expect(cut.stdout).toBe('credit-risk: 700 records in 1 call: 700 stored, 0 already stored (skipped), 0 rejected\n')
    const resumed = await cli(['upload', '--model', 'credit-risk', '--batch-size', '500', join(dir, 'full.csv')])
    expect(resumed.stdout).toBe('credit-risk: 1200 records in 3 calls: 500 stored, 700 already stored (skipped), 0 rejected\n')
    expect((await counts()).v10).toBe(1200)
    const res = await fetch(`${gw.url}/v1/models/credit-risk/inferences?role=external&version=v10&limit=1`, { headers: AUTH })
    const [record] = ((await res.json()) as { inferences: any[] }).inferences
    expect(record).toMatchObject({ inference_id: 'c-0', timestamp: new Date(T0).toISOString(), attributes: { note: 'batch 7, "night"' }, outputs: { label: 0, probability: 0 } })
    expect(record.inputs).toEqual(credit[0])
  }, 60_000)

  it('sends a Parquet file, its types kept', async () => {
    const sent = await cli(['upload', '--model', 'credit-risk', '--version', 'v11', join(dir, 'scores.parquet')])
    expect(sent.stdout).toBe('credit-risk: 1500 records in 2 calls: 1500 stored, 0 already stored (skipped), 0 rejected\n')
    expect((await counts()).v11).toBe(1500)
    const res = await fetch(`${gw.url}/v1/models/credit-risk/inferences?role=external&version=v11&limit=1`, { headers: AUTH })
    const [record] = ((await res.json()) as { inferences: any[] }).inferences
    expect(record).toMatchObject({ inference_id: 'p-0', timestamp: new Date(T0).toISOString(), outputs: { probability: 0 } })
    expect(record.inputs).toEqual(credit[0])
    const catalog = await (await fetch(`${gw.url}/v1/models/credit-risk`, { headers: AUTH })).json() as { versions: { version: string; served: string }[] }
    expect(catalog.versions.filter((v) => v.served === 'elsewhere').map((v) => v.version)).toEqual(['v9', 'v10', 'v11'])
  }, 60_000)

  it('reports each rejected record by its place in the file and exits 1; a mistake on the command line is one line and exit 2', async () => {
    writeFileSync(join(dir, 'bad.jsonl'), [
      JSON.stringify({ inference_id: 'ok-1', inputs: credit[0], outputs: { probability: 0.5 } }),
      JSON.stringify({ inference_id: 'bad-2', inputs: credit[1] }),
    ].join('\n'))
    const bad = await cli(['upload', '--model', 'credit-risk', '--version', 'v12', join(dir, 'bad.jsonl')])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain('1 stored, 0 already stored (skipped), 1 rejected')
    expect(bad.stderr).toMatch(/record 2 rejected: \[1\] has neither 'outputs' nor 'prediction'.* \(INFERENCE_ITEM_INVALID\)/)

    writeFileSync(join(dir, 'scores.xlsx'), '')
    const wrongKind = await cli(['upload', '--model', 'credit-risk', join(dir, 'scores.xlsx')])
    expect(wrongKind.code).toBe(2)
    expect(wrongKind.stderr.trim().split('\n')).toHaveLength(1)
    expect(wrongKind.stderr).toContain('the file must end in .jsonl, .csv, .parquet')
    const missing = await cli(['upload', '--model', 'credit-risk', join(dir, 'none.csv')])
    expect([missing.code, missing.stderr.trim().split('\n').length]).toEqual([2, 1])
    const noModel = await cli(['upload', '--model', 'no-such-model', join(dir, 'bad.jsonl')])
    expect(noModel.code).toBe(1)
    expect(noModel.stderr).toContain('MODEL_NOT_FOUND')
  }, 60_000)
})

describe('switchyard ground-truth', () => {
  it('joins outcomes from a file to the records sent in, and reports the ids with none', async () => {
    const sent = await cli(['ground-truth', '--model', 'credit-risk', join(dir, 'truth.csv')])
    expect(sent.stdout).toBe('credit-risk: 101 items in 1 call: 100 joined to 100 records, 1 with no record (not stored)\n')
    expect(sent.code).toBe(0)
    const res = await fetch(`${gw.url}/v1/models/credit-risk/compare`, { headers: AUTH })
    const v9 = ((await res.json()) as { versions: any[] }).versions.find((v) => v.version === 'v9')
    expect(v9.ground_truth.count).toBe(100)
  }, 60_000)
})
