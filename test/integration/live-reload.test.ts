/**
 * Issue #3: routes.yaml applied live. An invalid file leaves the last good config serving
 * and is reported with its line, at GET /admin/routes and in a metric; a saved file is
 * applied by the watcher within a second; a rollback writes an earlier revision back; and a
 * 20-second load with a reload every second sees no failed answer and no half-applied config.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const records = creditRecords(20, 5)
const ALL_V1 = 'routes:\n  credit-risk:\n    split: { v1: 100 }\n'
const V2_V3 = 'routes:\n  credit-risk:\n    split: { v2: 50, v3: 50 }\n'
let repo: string
let routesDir: string
let gw: Running
const routesPath = () => join(routesDir, 'routes.yaml')

beforeAll(async () => {
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' } })
  routesDir = mkdtempSync(join(tmpdir(), 'switchyard-routes-'))
  writeFileSync(routesPath(), ALL_V1)
  gw = await startGateway({ modelsDir: repo, routesPath: routesPath(), watchRoutes: true })
})

afterAll(async () => {
  await gw.close()
  rmSync(repo, { recursive: true, force: true })
  rmSync(routesDir, { recursive: true, force: true })
})

const predict = () => post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [records[0]] })

describe('live reload of routes.yaml', () => {
  it('keeps the last good config when the file is invalid, and reports the problem with its line', async () => {
    const good = (await get(`${gw.url}/admin/routes`)).body.revision.number
    writeFileSync(routesPath(), 'routes:\n  credit-risk:\n    split: { v1: 60, v2: 30 }\n')
    const res = await post(`${gw.url}/admin/routes/reload`, {})
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('ROUTES_INVALID')
    expect(res.body.problems).toEqual([{ path: 'routes.credit-risk.split', line: 3, column: 5, message: 'weights sum to 90, not 100' }])
    const state = (await get(`${gw.url}/admin/routes`)).body
    expect(state.revision.number).toBe(good)
    expect(state.last_rejection.problems[0].line).toBe(3)
    expect((await predict()).headers.get('x-model-version')).toBe('v1')
    const metrics = await (await fetch(`${gw.url}/metrics`)).text()
    expect(metrics).toMatch(/switchyard_config_reloads_total\{result="rejected"\} [1-9]/)
    expect(metrics).toMatch(/switchyard_config_last_rejection_problems 1/)
    writeFileSync(routesPath(), ALL_V1)
    await post(`${gw.url}/admin/routes/reload`, {})
  })

  it('applies a saved file within a second, through the file watcher', async () => {
    const before = (await get(`${gw.url}/admin/routes`)).body.revision.number
    writeFileSync(routesPath(), V2_V3)
    const deadline = Date.now() + 1_000
    let version = 'v1'
    while (Date.now() < deadline && version === 'v1') {
      await new Promise((r) => setTimeout(r, 25))
      version = (await predict()).headers.get('x-model-version')!
    }
    expect(['v2', 'v3']).toContain(version)
    expect((await get(`${gw.url}/admin/routes`)).body.revision.number).toBe(before + 1)
  })

  it('rolls back to an earlier revision by writing it to routes.yaml and applying it', async () => {
    const history = (await get(`${gw.url}/admin/routes`)).body.history as { number: number; sha256: string }[]
    const first = history[0]
    const res = await post(`${gw.url}/admin/routes/rollback`, { revision: first.number })
    expect(res.status).toBe(200)
    expect(res.body.result).toBe('applied')
    expect(res.body.revision.sha256).toBe(first.sha256)
    expect(readFileSync(routesPath(), 'utf8')).toBe(ALL_V1)
    expect((await predict()).headers.get('x-model-version')).toBe('v1')
    expect(await post(`${gw.url}/admin/routes/rollback`, { revision: 999 })).toMatchObject({ status: 404, body: { code: 'REVISION_NOT_FOUND' } })
  })

  it('answers every request of a 20-second load with a reload every second, each consistent with one whole revision', async () => {
    const configOf = new Map<number, string>() // revision -> which file
    const answers: { status: number; version: string | null; revision: number }[] = []
    let stop = false
    const load = async () => {
      while (!stop) {
        const res = await predict()
        answers.push({ status: res.status, version: res.headers.get('x-model-version'), revision: Number(res.headers.get('x-routes-revision')) })
      }
    }
    const current = (await get(`${gw.url}/admin/routes`)).body.revision.number
    configOf.set(current, readFileSync(routesPath(), 'utf8'))
    const loaders = Array.from({ length: 8 }, load)
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 1_000))
      const source = i % 2 === 0 ? V2_V3 : ALL_V1
      writeFileSync(routesPath(), source)
      const res = await post(`${gw.url}/admin/routes/reload`, {})
      configOf.set(res.body.revision.number, source)
    }
    stop = true
    await Promise.all(loaders)
    expect(answers.length).toBeGreaterThan(1_000)
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    const revisions = new Set(answers.map((a) => a.revision))
    expect(revisions.size).toBeGreaterThan(10) // the load really spanned the reloads
    const inconsistent = answers.filter((a) => {
      const source = configOf.get(a.revision)
      return source === undefined || (source === ALL_V1 ? a.version !== 'v1' : a.version !== 'v2' && a.version !== 'v3')
    })
    expect(inconsistent).toEqual([])
  }, 40_000)
})
