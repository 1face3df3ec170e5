/**
 * Issue #3: the reference routes.yaml of ARCHITECTURE.md, exactly as written, against a
 * repository holding credit-risk, fraud and churn; split shares within chi-square bounds,
 * stickiness, match, pin, labels, shadow and champion-challenger scoring.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, get, inParallel, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

let repo: string
let routesDir: string
let gw: Running
const records = creditRecords(50, 11)
const body = (i = 0) => ({ instances: [records[i % records.length]] })

beforeAll(async () => {
  repo = makeRepository({
    'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' },
    fraud: { v1: 'v1', v2: 'v2', v3: 'v3' },
    churn: { v1: 'v1', v2: 'v3' },
  })
  routesDir = mkdtempSync(join(tmpdir(), 'switchyard-routes-'))
  copyFileSync(new URL('../fixtures/routes/valid-reference.yaml', import.meta.url), join(routesDir, 'routes.yaml'))
  gw = await startGateway({ modelsDir: repo, routesPath: join(routesDir, 'routes.yaml') })
})

afterAll(async () => {
  await gw.close()
  rmSync(repo, { recursive: true, force: true })
  rmSync(routesDir, { recursive: true, force: true })
})

/** Pearson's chi-square statistic of observed counts against expected shares. */
function chiSquare(observed: Record<string, number>, shares: Record<string, number>, n: number): number {
  return Object.entries(shares).reduce((sum, [k, share]) => {
    const expected = share * n
    return sum + (((observed[k] ?? 0) - expected) ** 2) / expected
  }, 0)
}

const count = (xs: string[]) => xs.reduce<Record<string, number>>((acc, x) => ((acc[x] = (acc[x] ?? 0) + 1), acc), {})

describe('the reference routes.yaml, as written', () => {
  it('splits credit-risk 90/10 within chi-square bounds over 10,000 requests', async () => {
    const n = 10_000
    const versions = await inParallel(n, 32, async (i) => (await post(`${gw.url}/v1/models/credit-risk/predict`, body(i))).headers.get('x-model-version')!)
    const observed = count(versions)
    // 1 degree of freedom: 10.83 is the 0.1% critical value, so a correct split fails 1 run in 1,000
    expect(chiSquare(observed, { v1: 0.9, v2: 0.1 }, n)).toBeLessThan(10.83)
    expect(Object.keys(observed).sort()).toEqual(['v1', 'v2'])
  }, 120_000)

  it('answers with the version and its role, in the header and the body', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/predict`, body())
    expect(res.status).toBe(200)
    expect(res.headers.get('x-model-role')).toBe('primary')
    expect(res.body.role).toBe('primary')
    expect(res.body.version).toBe(res.headers.get('x-model-version'))
    expect(Number(res.headers.get('x-routes-revision'))).toBeGreaterThanOrEqual(1)
  })

  it('keeps a sticky key on one version, and spreads different keys by the weights', async () => {
    for (const customer of ['c-1', 'c-2', 'c-3']) {
      const seen = new Set<string>()
      for (let i = 0; i < 10; i++) seen.add((await post(`${gw.url}/v1/models/credit-risk/predict`, body(i), { 'x-customer-id': customer })).headers.get('x-model-version')!)
      expect(seen.size).toBe(1)
    }
    const versions = await inParallel(2_000, 16, async (i) => (await post(`${gw.url}/v1/models/credit-risk/predict`, body(i), { 'x-customer-id': `cust-${i}` })).headers.get('x-model-version')!)
    const share = (count(versions).v2 ?? 0) / versions.length
    expect(share).toBeGreaterThan(0.07)
    expect(share).toBeLessThan(0.13)
  }, 60_000)

  it('sends matching requests to v3 before the split', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/predict`, body(), { 'x-tester': 'true' })
    expect(res.headers.get('x-model-version')).toBe('v3')
    expect((await post(`${gw.url}/v1/models/credit-risk/predict`, body(), { 'x-tester': 'false', 'x-model-version': 'v1' })).headers.get('x-model-version')).toBe('v1')
  })

  it('lets clients pin a version by header, and refuses a pin to a version that does not exist', async () => {
    for (const v of ['v1', 'v2', 'v3']) {
      expect((await post(`${gw.url}/v1/models/credit-risk/predict`, body(), { 'x-model-version': v })).headers.get('x-model-version')).toBe(v)
    }
    const res = await post(`${gw.url}/v1/models/credit-risk/predict`, body(), { 'x-model-version': 'v9' })
    expect(res).toMatchObject({ status: 404, body: { code: 'PINNED_VERSION_NOT_FOUND' } })
  })

  it('ignores a pin header on a route that does not allow pinning', async () => {
    const res = await post(`${gw.url}/v1/models/fraud/predict`, body(), { 'x-model-version': 'v3' })
    expect(res.headers.get('x-model-version')).toBe('v1')
  })

  it('serves labels as stable aliases', async () => {
    expect((await post(`${gw.url}/v1/models/credit-risk/labels/stable/predict`, body())).headers.get('x-model-version')).toBe('v1')
    const canary = await post(`${gw.url}/v1/models/credit-risk/labels/canary/predict`, body())
    expect(canary.headers.get('x-model-version')).toBe('v2')
    expect(canary.body.role).toBe('direct')
    expect(await post(`${gw.url}/v1/models/credit-risk/labels/nope/predict`, body())).toMatchObject({ status: 404, body: { code: 'LABEL_NOT_FOUND' } })
  })

  it('routes POST /predict by the model named in the body, and the V2 version-less infer too', async () => {
    const res = await post(`${gw.url}/predict`, { model: 'fraud', ...body() })
    expect(res.headers.get('x-model-version')).toBe('v1')
    expect(await post(`${gw.url}/predict`, body())).toMatchObject({ status: 400, body: { code: 'MODEL_NOT_NAMED' } })
    const v2 = await post(`${gw.url}/v2/models/fraud/infer`, {
      inputs: [{ name: 'features', shape: [1, 22], datatype: 'FP32', data: Object.values(records[0]) }],
    })
    expect(v2.status).toBe(200)
    expect(v2.body.model_version).toBe('v1')
  })

  it('mirrors every credit-risk request to the v3 shadow and compares it with the primary', async () => {
    const before = gw.gateway.mirrors.statFor('credit-risk', 'v3', 'shadow').requests
    await inParallel(200, 8, (i) => post(`${gw.url}/v1/models/credit-risk/predict`, body(i)))
    await waitFor(() => {
      const stat = gw.gateway.mirrors.statFor('credit-risk', 'v3', 'shadow')
      return stat.requests - before >= 200 && stat.comparedRows >= 200
    })
    const stat = (await get(`${gw.url}/admin/routes`)).body.mirrors.find((m: { version: string; role: string; model: string }) => m.model === 'credit-risk' && m.version === 'v3' && m.role === 'shadow')
    expect(stat.errors).toBe(0)
    expect(stat.agreement).toBeGreaterThan(0.5) // v1/v2 and v3 mostly agree on the label
    expect(stat.agreement).toBeLessThanOrEqual(1)
  })

  it('lets the champion answer while challengers score their share of the same requests', async () => {
    const n = 400
    const versions = await inParallel(n, 8, async (i) => (await post(`${gw.url}/v1/models/fraud/predict`, body(i))).headers.get('x-model-version')!)
    expect(new Set(versions)).toEqual(new Set(['v1']))
    await waitFor(() => gw.gateway.mirrors.statFor('fraud', 'v2', 'challenger').requests >= n)
    const v3 = gw.gateway.mirrors.statFor('fraud', 'v3', 'challenger').requests
    expect(v3 / n).toBeGreaterThan(0.15) // 25% of requests, give or take
    expect(v3 / n).toBeLessThan(0.35)
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}
