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
import { CREDIT_FEATURES, driftedRow, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { get, post, REPO_MODELS, startGateway } from './helpers.js'
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
    // the profile came from reference.json before any record: the writer counted every one in its rollups
    expect(steady.body.source).toBe('rollups')
    expect((await drift(`version=v1&since=${s0}&until=${u0}&reference=v2`)).body.source).toBe('records') // v2's records in v1's bins
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
    expect([none.status, none.body.code]).toEqual([404, 'DRIFT_NO_REFERENCE'])
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
  const scrape = async () => (await fetch(`${gw.url}/metrics`)).text()
  const gauge = (text: string, version: string, feature: string) =>
    new RegExp(`^switchyard_drift_psi\\{model="credit-risk",version="${version}",feature="${feature}"\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? null
  /** The hour the gauge measures at `now`: whole minutes, ending one to two minutes before. */
  const hourAt = (now: number) => {
    const until = Math.floor((now - 60_000) / 60_000) * 60_000
    return { since: until - 3_600_000, until }
  }
  const psiOf = async (version: string, w: { since: number; until: number }, feature: string) => {
    const body = (await drift(`version=${version}&since=${w.since}&until=${w.until}`)).body
    return feature === 'score' ? body.score.psi : body.features.find((f: { feature: string }) => f.feature === feature).psi
  }

  it("holds each feature's PSI over the last hour, counting only new minutes at each refresh, for every version with a profile", async () => {
    const first = Date.now() + 120_000 // the records sent a moment ago are in the hour
    await gw.gateway.drift.refresh(first)
    let text = await scrape()
    expect(Number(gauge(text, 'v1', 'age'))).toBeCloseTo(await psiOf('v1', hourAt(first), 'age'), 9)
    expect(Number(gauge(text, 'v1', 'score'))).toBeCloseTo(await psiOf('v1', hourAt(first), 'score'), 9)
    expect(gauge(text, 'v2', 'limit_bal')).not.toBeNull()
    expect(gauge(text, 'v3', 'age')).toBeNull() // a profile, but no records in the hour

    // a minute on: the records of that minute are counted (their caller's time puts them there), the earlier minutes kept
    const instances = generateCreditRows(300, 8).map(driftedRow).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, r[f]])))
    const later = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances }, { 'x-inference-timestamp': String(hourAt(first).until + 5_000) })
    expect(later.status).toBe(200)
    const second = first + 60_000
    await gw.gateway.drift.refresh(second)
    text = await scrape()
    expect(Number(gauge(text, 'v1', 'age'))).toBeCloseTo(await psiOf('v1', hourAt(second), 'age'), 9)
    expect(Number(gauge(text, 'v1', 'limit_bal'))).toBeCloseTo(await psiOf('v1', hourAt(second), 'limit_bal'), 9)
    expect(Number(gauge(text, 'v1', 'age'))).not.toBeCloseTo(await psiOf('v1', hourAt(first), 'age'), 3) // it moved

    // an hour and more on: the minutes have left the window
    await gw.gateway.drift.refresh(second + 2 * 3_600_000)
    expect(gauge(await scrape(), 'v1', 'age')).toBeNull()
  })

  it('counts again in the new bins when a version is given a new profile', async () => {
    const now = Date.now() + 120_000
    await gw.gateway.drift.refresh(now)
    const profile = { format: 1, records: 4, source: 'four rows', features: [{ feature: 'age', kind: 'numeric', n: 4, edges: [30], counts: [2, 2] }], score: null }
    const res = await fetch(`${gw.url}/v1/models/credit-risk/versions/v1/reference`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(profile) })
    expect(res.status).toBe(200)
    await gw.gateway.drift.refresh(now)
    const text = await scrape()
    expect(Number(gauge(text, 'v1', 'age'))).toBeCloseTo(await psiOf('v1', hourAt(now), 'age'), 9)
    expect(gauge(text, 'v1', 'limit_bal')).toBeNull()
  })
})
