/**
 * Issue #18 from the command line: `switchyard reference` builds a version's profile from a
 * .csv, .jsonl or .parquet file (the same profile from each) and gives it to a running gateway
 * or writes it to a file; `switchyard drift` prints the drift table, flagged features first.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, driftedRow, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { ADMIN_TOKEN, AUTH, spawnGateway } from './gateway-process.js'
import type { GatewayProcess } from './gateway-process.js'

const run = promisify(execFile)
const root = new URL('../..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-drift-'))
let gw: GatewayProcess

const rows = generateCreditRows(2_000, 3).map((r, i) => ({ ...r, channel: ['web', 'branch, main', 'a "quoted" one'][i % 3] }))
const columns = [...CREDIT_FEATURES, 'default', 'channel'] as const
const csvCell = (v: unknown) => (typeof v === 'string' ? `"${v.replaceAll('"', '""')}"` : String(v))

async function cli(args: string[], token = ADMIN_TOKEN): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/cli.js', ...args], { cwd: root, env: { ...process.env, SWITCHYARD_URL: gw.url, SWITCHYARD_TOKEN: token } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

beforeAll(async () => {
  writeFileSync(join(dir, 'ref.csv'), [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n')
  writeFileSync(join(dir, 'ref.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n')
  writeFileSync(join(dir, 'ref.parquet'), Buffer.from(parquetWriteBuffer({ columnData: columns.map((c) => ({ name: c, data: rows.map((r) => r[c]) })) })))
  gw = await spawnGateway(['--store', `sqlite:${join(dir, 'log.db')}`, '--spill-dir', join(dir, 'spill')])
})

afterAll(async () => {
  gw?.child.kill('SIGTERM')
  await gw?.exited()
  rmSync(dir, { recursive: true, force: true })
})

describe('switchyard reference and drift', () => {
  it('gives the gateway the profile of a CSV file, every column a feature but the excluded ones', async () => {
    const made = await cli(['reference', '--model', 'credit-risk', '--version', 'v2', '--exclude', 'default', join(dir, 'ref.csv')])
    expect(made.stderr).toBe('')
    expect(made.code).toBe(0)
    expect(made.stdout).toMatch(/^FEATURE\s+KIND\s+BINS\s+N\n/)
    expect(made.stdout).toMatch(/^limit_bal\s+numeric\s+10\s+2000$/m)
    expect(made.stdout).toMatch(/^channel\s+categorical\s+4\s+2000$/m)
    expect(made.stdout).toContain('credit-risk v2: reference profile of 2000 rows from ref.csv')
    const stored = await (await fetch(`${gw.url}/v1/models/credit-risk/versions/v2/reference`, { headers: AUTH })).json() as any
    expect(stored).toMatchObject({ records: 2000, source: 'ref.csv', features: 23, score: false, updated_by: 'e2e-admin' })
    expect(stored.profile.features.find((f: { feature: string }) => f.feature === 'channel').values).toEqual(['a "quoted" one', 'branch, main', 'web'])
    expect(stored.profile.features.map((f: { feature: string }) => f.feature)).not.toContain('default')
  })

  it('builds the same profile from the same rows as .jsonl and .parquet, written to a file with --out', async () => {
    const stored = await (await fetch(`${gw.url}/v1/models/credit-risk/versions/v2/reference`, { headers: AUTH })).json() as any
    for (const ext of ['jsonl', 'parquet']) {
      const out = join(dir, `${ext}.json`)
      const made = await cli(['reference', '--model', 'credit-risk', '--version', 'v2', '--exclude', 'default', '--out', out, join(dir, `ref.${ext}`)])
      expect(made.code, made.stderr).toBe(0)
      expect(made.stdout).toContain(`wrote ${out}: the profile of 2000 rows from ref.${ext}`)
      expect({ ...JSON.parse(readFileSync(out, 'utf8')), source: 'ref.csv' }).toEqual(stored.profile)
    }
  })

  it('prints the drift table, flagged features first', async () => {
    const instances = generateCreditRows(400, 9).map(driftedRow).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, r[f]])))
    const res = await fetch(`${gw.url}/v1/models/credit-risk/versions/v2/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances }) })
    expect(res.status).toBe(200)
    const shown = await cli(['drift', '--model', 'credit-risk', '--version', 'v2'])
    expect(shown.code, shown.stderr).toBe(0)
    const [summary, header, first, ...rest] = shown.stdout.trimEnd().split('\n')
    expect(summary).toMatch(/^credit-risk v2: 400 records against the reference profile of v2 \(2000 rows from ref\.csv\); \d+ flagged at PSI >= 0\.2$/)
    expect(header).toMatch(/^FEATURE\s+KIND\s+N\s+PSI\s+TEST\s+STATISTIC\s+P\s+FLAG$/)
    expect(first).toMatch(/^\S+\s+numeric\s+400\s+[\d.]+\s+ks\s+[\d.]+\s+\S+\s+DRIFT$/)
    expect(rest.find((l) => l.startsWith('channel'))).toMatch(/^channel\s+categorical\s+0\s+-\s+chi_square\s+-\s+-$/) // not a feature of the requests
    expect(rest).toHaveLength(22) // 23 features, no score in this profile
  })

  it('fails with the reason: no file, no rows, no reference, no token', async () => {
    const missing = await cli(['reference', '--model', 'credit-risk', '--version', 'v2', join(dir, 'nope.csv')])
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/^switchyard reference: cannot read '.*nope\.csv': no such file/)])
    writeFileSync(join(dir, 'empty.csv'), 'a,b\n')
    expect((await cli(['reference', '--model', 'credit-risk', '--version', 'v2', join(dir, 'empty.csv')])).stderr).toMatch(/holds no rows/)
    writeFileSync(join(dir, 'rows.txt'), 'a,b\n')
    expect((await cli(['reference', '--model', 'credit-risk', '--version', 'v2', join(dir, 'rows.txt')])).stderr).toMatch(/the file must end in \.jsonl, \.csv, \.parquet/)
    const none = await cli(['drift', '--model', 'credit-risk', '--version', 'v9'])
    expect([none.code, none.stderr]).toEqual([1, expect.stringMatching(/no reference profile; give it one with switchyard reference .*\(404 DRIFT_NO_REFERENCE\)/)])
    const anonymous = await cli(['reference', '--model', 'credit-risk', '--version', 'v2', join(dir, 'ref.csv')], '')
    expect([anonymous.code, anonymous.stderr]).toEqual([1, expect.stringContaining('401 AUTH_REQUIRED')])
  })
})
