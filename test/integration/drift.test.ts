/**
 * Issue #18, drift on a gateway: the sample models' reference.json files are in the store at
 * start; `simulate` traffic leaves no feature flagged, `simulate --drift` flags the shifted
 * ones; the other references (a version, a window), the threshold from model.yaml, the profile
 * API and its errors, the answer against its OpenAPI schema, and the Prometheus gauge.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { simulate } from '../../src/cli/simulate.js'
import { openApiDocument } from '../../src/http/openapi.js'
import { SERVER_INFO } from '../../src/version.js'
import { get, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

let dir: string
let gw: Running
const windows: { steady: [number, number]; drifted: [number, number] } = { steady: [0, 0], drifted: [0, 0] }

async function send(drift: boolean, seed: number): Promise<[number, number]> {
  const since = Date.now()
  const s = await simulate({ url: gw.url, model: 'credit-risk', rps: 250, durationMs: 2_000, groundTruthDelayMs: 0, customers: 50, seed, drift, out: null })
  expect(s).toMatchObject({ sent: 500, answered: 500, failed: 0 })
  return [since, Date.now() + 1]
}

const drift = async (query: string) => get(`${gw.url}/v1/models/credit-risk/drift?${query}`)
const flaggedOf = (body: { features: { feature: string; flagged: boolean }[] }) => body.features.filter((f) => f.flagged).map((f) => f.feature)

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-drift-'))
  cpSync(REPO_MODELS, join(dir, 'models'), { recursive: true })
  writeFileSync(join(dir, 'models', 'credit-risk', 'model.yaml'), 'task: binary-classification\ndrift: { psi: 0.25 }\n')
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n    shadow: { v2: 100 }\n')
  gw = await startGateway({ modelsDir: join(dir, 'models'), routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
  windows.steady = await send(false, 5)
  windows.drifted = await send(true, 6)
}, 60_000)

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('GET /v1/models/{model}/drift', () => {
  it('flags nothing for traffic like the training data, and the shifted features for simulate --drift', async () => {
    const [s0, u0] = windows.steady
    const steady = await drift(`version=v1&since=${s0}&until=${u0}`)
    expect(steady.status).toBe(200)
    expect(steady.body).toMatchObject({
      model: 'credit-risk', version: 'v1', n: 500, thresholds: { psi: 0.25 },
      reference: { kind: 'profile', version: 'v1', records: 30_000, source: 'training data: synthetic-credit-default, seed 1, 30000 rows', updated_by: 'file reference.json' },
    })
    expect(steady.body.features).toHaveLength(22)
    expect(flaggedOf(steady.body)).toEqual([])
    expect(steady.body.score).toMatchObject({ feature: 'score', kind: 'numeric', test: 'ks', n: 500, flagged: false })
    expect(steady.body.features.every((f: { n: number; p_value: number }) => f.n === 500 && f.p_value >= 0 && f.p_value <= 1)).toBe(true)

    const [s1, u1] = windows.drifted
    const shifted = await drift(`version=v1&since=${s1}&until=${u1}`)
    expect(flaggedOf(shifted.body)).toEqual(expect.arrayContaining(['age', 'limit_bal']))
    expect(shifted.body.features[0].flagged).toBe(true)
    expect(shifted.body.score.flagged).toBe(true)
    // the shadow's records are the same inputs: v2 drifted as much
    expect(flaggedOf((await drift(`version=v2&since=${s1}&until=${u1}`)).body)).toEqual(flaggedOf(shifted.body))
  })

  it('measures against a window of the version, or another version in the same window', async () => {
    const [s0, u0] = windows.steady
    const [s1, u1] = windows.drifted
    const againstWindow = await drift(`version=v1&since=${s1}&until=${u1}&reference=window:${s0}..${u0}`)
    expect(againstWindow.status).toBe(200)
    expect(againstWindow.body.reference).toMatchObject({ kind: 'window', version: 'v1', since: new Date(s0).toISOString(), until: new Date(u0).toISOString(), n: 500, bins_from: 'v1' })
    expect(flaggedOf(againstWindow.body)).toEqual(expect.arrayContaining(['age', 'limit_bal']))
    const againstVersion = await drift(`version=v1&since=${s1}&until=${u1}&reference=v2`)
    expect(againstVersion.body.reference).toMatchObject({ kind: 'version', version: 'v2', n: 500 })
    expect(againstVersion.body.features.every((f: { psi: number }) => f.psi === 0)).toBe(true) // the same inputs
    const otherProfile = await drift(`version=v1&since=${s0}&until=${u0}&reference=profile:v3`)
    expect(otherProfile.body.reference).toMatchObject({ kind: 'profile', version: 'v3' })
  })

  it('answers as its OpenAPI schema says', async () => {
    const [s1, u1] = windows.drifted
    const paths = openApiDocument(SERVER_INFO).paths as any
    const schema = paths['/v1/models/{model}/drift'].get.responses['200'].content['application/json'].schema
    const validate = new Ajv2020({ strict: false }).compile(schema)
    for (const q of [`version=v1&since=${s1}&until=${u1}`, `version=v1&reference=v2`, 'version=v1&since=0&until=1']) {
      const res = await drift(q)
      expect(validate(res.body), JSON.stringify(validate.errors)).toBe(true)
    }
  })

  it('refuses a bad query with the parameter named, and says how to give a missing reference', async () => {
    for (const [q, parameter] of [['', 'version'], ['version=v1&since=x', 'since'], ['version=v1&reference=window:5..1', 'reference'],
      ['version=v1&reference=window:yesterday', 'reference'], ['version=../v1', 'version'], ['version=v1&since=10&until=5', 'since']]) {
      const res = await drift(q)
      expect([res.status, res.body.code], q).toEqual([400, 'QUERY_INVALID'])
      expect(res.body.error).toContain(`'${parameter}'`)
    }
    const none = await drift('version=v9')
    expect([none.status, none.body.code]).toEqual([409, 'DRIFT_NO_REFERENCE'])
    expect(none.body.error).toContain('switchyard reference --model credit-risk --version v9')
    expect((await get(`${gw.url}/v1/models/nope/drift?version=v1`)).body.code).toBe('MODEL_NOT_FOUND')
  })
})

describe('PUT /v1/models/{model}/versions/{version}/reference', () => {
  const put = (version: string, body: unknown) => fetch(`${gw.url}/v1/models/credit-risk/versions/${version}/reference`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(async (r) => ({ status: r.status, body: (await r.json()) as any }))

  it('keeps a profile for the version, replacing the one it had', async () => {
    const profile = { format: 1, records: 4, source: 'four rows', features: [{ feature: 'age', kind: 'numeric', n: 4, edges: [30], counts: [2, 2] }], score: null }
    const res = await put('v9', profile)
    expect(res).toMatchObject({ status: 200, body: { model: 'credit-risk', version: 'v9', records: 4, source: 'four rows', features: 1, score: false, updated_by: 'anonymous' } })
    expect((await get(`${gw.url}/v1/models/credit-risk/versions/v9/reference`)).body.profile).toEqual(profile)
    const measured = await drift('version=v9')
    expect(measured.body.features.map((f: { feature: string }) => f.feature)).toEqual(['age'])
    expect(measured.body.score).toBeNull()
  })

  it('refuses what is not a profile, saying what is wrong', async () => {
    const res = await put('v9', { format: 1, records: 1, source: 'x', features: [{ feature: 'age', kind: 'numeric', n: 1, edges: [1, 2], counts: [1] }], score: null })
    expect([res.status, res.body.code]).toEqual([400, 'REFERENCE_INVALID'])
    expect(res.body.error).toMatch(/features\.0.*one entry more than edges/)
    expect((await put('v9', [])).body.code).toBe('REFERENCE_INVALID')
  })
})

describe('switchyard_drift_psi', () => {
  it('holds each feature\'s PSI over the last hour, for every version with a profile', async () => {
    await gw.gateway.drift.refresh()
    const text = await (await fetch(`${gw.url}/metrics`)).text()
    const line = (version: string, feature: string) => new RegExp(`^switchyard_drift_psi\\{model="credit-risk",version="${version}",feature="${feature}"\\} ([0-9.e-]+)$`, 'm').exec(text)
    const hour = await drift(`version=v1&since=${Date.now() - 3_600_000}`)
    const age = hour.body.features.find((f: { feature: string }) => f.feature === 'age')
    expect(Number(line('v1', 'age')?.[1])).toBeCloseTo(age.psi, 6)
    expect(line('v1', 'score')).not.toBeNull()
    expect(line('v2', 'limit_bal')).not.toBeNull()
    expect(line('v3', 'age')).toBeNull() // a profile, but no records in the hour
  })
})
