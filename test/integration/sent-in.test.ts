/**
 * Issue #18 point 1, inferences sent in, on a real gateway over both real stores: stored once
 * each (a re-send stores nothing and says so), bad items answered one by one while the good
 * ones are kept, the model's privacy rules applied, ground truth joined, and a version served
 * elsewhere in the catalog and in the comparison beside the served one; a model served only
 * elsewhere is a folder with nothing but model.yaml.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashValue } from '../../src/inference-log/privacy.js'
import { creditRecords, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'
import { createTestDatabase } from './postgres.js'

const T0 = Date.parse('2026-11-02T08:00:00Z')
const records = creditRecords(40, 18)

/** One case made elsewhere: a partner's score of a credit record, higher for the odd ids. */
function item(i: number, over: Record<string, unknown> = {}) {
  const score = i % 2 === 1 ? 0.8 : 0.2
  return { inference_id: `case-${i}`, timestamp: T0 + i * 1000, version: 'v9', inputs: records[i], outputs: { label: score >= 0.5 ? 1 : 0, probability: score }, attributes: { source: 'nightly' }, ...over }
}

const STORES: Record<string, () => Promise<{ spec: string; drop(): Promise<void> }>> = {
  sqlite: async () => ({ spec: `sqlite:${join(mkdtempSync(join(tmpdir(), 'switchyard-sent-in-db-')), 'log.db')}`, drop: async () => {} }),
  postgres: async () => {
    const db = await createTestDatabase()
    return { spec: db.url, drop: db.drop }
  },
}

describe.each(Object.keys(STORES))('inferences sent in, on the %s store', (kind) => {
  let dir: string
  let gw: Running
  let db: { spec: string; drop(): Promise<void> }

  beforeAll(async () => {
    db = await STORES[kind]()
    dir = mkdtempSync(join(tmpdir(), 'switchyard-sent-in-'))
    const repo = makeRepository({ 'credit-risk': { v1: 'v1' } })
    writeFileSync(join(repo, 'credit-risk', 'model.yaml'), 'task: binary-classification\nprivacy:\n  hash: [age]\n  drop: [MARRIage]\n')
    // a model served only elsewhere: its folder holds model.yaml and no version
    mkdirSync(join(repo, 'partner-risk'))
    writeFileSync(join(repo, 'partner-risk', 'model.yaml'), 'task: binary-classification\ndescription: scored by the partner bank\n')
    writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n')
    gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: db.spec, spillDir: join(dir, 'spill') })
  })

  afterAll(async () => {
    await gw?.close()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  const send = (model: string, body: unknown, query = '') => post(`${gw.url}/v1/models/${model}/inferences${query}`, body)
  const external = async (model: string) => (await get(`${gw.url}/v1/models/${model}/inferences?role=external&limit=1000`)).body.inferences as any[]

  it('stores the good items, answers each bad one by index, and stores nothing again for a re-send', async () => {
    const body = [
      item(0), item(1),
      { ...item(2), inference_id: '' },                                   // 1: not an id
      item(3, { timestamp: 'yesterday' }),                                // 3: not a time
      item(4, { outputs: undefined }),                                    // 4: neither outputs nor prediction
      item(5, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [1, 2] }] }), // 5: data short of its shape
      item(6, { colour: 'red' }),                                         // 6: unknown field
      item(7),
    ]
    const first = await send('credit-risk', body)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ model: 'credit-risk', received: 8, accepted: 3, duplicate: 0, rejected: 5 })
    expect(first.body.errors.map((e: any) => [e.index, e.code])).toEqual([
      [2, 'INFERENCE_ID_INVALID'], [3, 'TIMESTAMP_INVALID'], [4, 'INFERENCE_ITEM_INVALID'], [5, 'INFERENCE_ITEM_INVALID'], [6, 'INFERENCE_ITEM_INVALID'],
    ])
    expect(first.body.errors[2].message).toContain("neither 'outputs' nor 'prediction'")
    expect(first.body.errors[3].message).toContain('shape [1, 3] holds 3')

    const again = await send('credit-risk', [item(0), item(1), item(7), item(8), item(8)])
    expect(again.body).toMatchObject({ received: 5, accepted: 1, duplicate: 4, rejected: 0, errors: [] })
    // a changed item under a stored id is a duplicate too: records are immutable
    const changed = await send('credit-risk', [item(0, { outputs: { label: 1, probability: 0.99 } })])
    expect(changed.body).toMatchObject({ accepted: 0, duplicate: 1 })

    const stored = await external('credit-risk')
    expect(stored.map((r) => r.inference_id).sort()).toEqual(['case-0', 'case-1', 'case-7', 'case-8'])
    const zero = stored.find((r) => r.inference_id === 'case-0')
    expect(zero).toMatchObject({ role: 'external', version: 'v9', timestamp: new Date(T0).toISOString(), route: null, status: 200, outputs: { label: 0, probability: 0.2 }, attributes: { source: 'nightly' } })
  })

  it('applies the model\'s privacy rules, as to served records', async () => {
    const [zero] = (await external('credit-risk')).filter((r) => r.inference_id === 'case-0')
    expect(zero.inputs.age).toBe(hashValue(records[0].age, null))
    expect(zero.inputs).not.toHaveProperty('MARRIage')
    expect(zero.inputs.limit_bal).toBe(records[0].limit_bal)
  })

  it('takes V2 tensors, ?version= for items without one, and "prediction" for outputs', async () => {
    const tensors = [{ name: 'features', datatype: 'FP32', shape: [1, 22], data: Object.values(records[9]) }]
    const res = await send('credit-risk', [{ inference_id: 'tensor-9', inputs: tensors, outputs: [{ name: 'probability', datatype: 'FP32', shape: [1], data: [0.9] }] },
      { inference_id: 'pred-10', inputs: records[10], prediction: { label: 1, probability: 0.6 } }], '?version=v8')
    expect(res.body).toMatchObject({ accepted: 2, rejected: 0 })
    const rows = (await external('credit-risk')).filter((r) => r.version === 'v8')
    expect(rows.map((r) => r.inference_id).sort()).toEqual(['pred-10', 'tensor-9'])
    expect(rows.find((r) => r.inference_id === 'tensor-9').inputs[0].shape).toEqual([1, 22])
    const none = await send('credit-risk', [{ inference_id: 'x', inputs: records[0], outputs: { probability: 0.5 } }])
    expect(none.body.errors[0]).toMatchObject({ index: 0, code: 'INFERENCE_ITEM_INVALID' })
  })

  it('refuses a body that is not an array, and one over the size limit with 413', async () => {
    const notArray = await send('credit-risk', { inference_id: 'x' })
    expect(notArray.status).toBe(400)
    expect(notArray.body.code).toBe('INFERENCES_INVALID')
    const big = await send('credit-risk', Array.from({ length: 9_000 }, (_, i) => item(i % 40, { inference_id: `big-${i}`, inputs: { note: 'x'.repeat(1_000) } })))
    expect(big.status).toBe(413)
    expect(big.body.code).toBe('BODY_TOO_LARGE')
    expect(big.body.error).toMatch(/larger than the limit of 8388608 bytes; this endpoint takes no more: send less, or split a list into several requests/)
    expect(big.body.error).not.toContain('--max-body-bytes') // which sets the data plane's limit, not this one
  })

  it('lists a version served elsewhere in the catalog, and a model served only elsewhere', async () => {
    const model = (await get(`${gw.url}/v1/models/credit-risk`)).body
    expect(model.versions.map((v: any) => [v.version, v.served])).toEqual([['v1', 'here'], ['v8', 'elsewhere'], ['v9', 'elsewhere']])
    expect(model.versions.find((v: any) => v.version === 'v9')).toMatchObject({ state: null, stage: 'Unassigned' })
    const versions = (await get(`${gw.url}/v1/models/credit-risk/versions`)).body.versions
    expect(versions.filter((v: any) => v.served === 'elsewhere').map((v: any) => v.version)).toEqual(['v8', 'v9'])

    expect((await get(`${gw.url}/v1/models/partner-risk`)).body.versions).toEqual([])
    const predicted = await post(`${gw.url}/v1/models/partner-risk/predict`, { instances: [records[0]] })
    expect([predicted.status, predicted.body.code]).toEqual([409, 'MODEL_SERVED_ELSEWHERE'])
    expect(predicted.body.error).toContain('POST /v1/models/partner-risk/inferences')
    expect((await get(`${gw.url}/v2/health/ready`)).status).toBe(200)
    const res = await send('partner-risk', [item(1, { version: '2026-11' }), item(2, { version: '2026-11' })])
    expect(res.body).toMatchObject({ accepted: 2 })
    const partner = (await get(`${gw.url}/v1/models`)).body.models.find((m: any) => m.name === 'partner-risk')
    expect(partner.versions).toEqual([{ version: '2026-11', served: 'elsewhere', state: null, label: null, stage: 'Unassigned' }])
  })

  it('joins ground truth and compares the version served elsewhere with the served one', async () => {
    // the served version answers the same cases
    for (let i = 20; i < 40; i++) {
      const res = await post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [{ id: `case-${i}`, ...records[i] }] })
      expect(res.status).toBe(200)
    }
    const sent = await send('credit-risk', Array.from({ length: 20 }, (_, k) => item(20 + k)))
    expect(sent.body).toMatchObject({ accepted: 20 })
    const truth = Array.from({ length: 20 }, (_, k) => ({ inference_id: `case-${20 + k}`, label: (20 + k) % 2 }))
    const joined = await post(`${gw.url}/v1/models/credit-risk/ground-truth`, truth)
    expect(joined.body).toMatchObject({ joined: 20, records: 40 })

    const compare = (await get(`${gw.url}/v1/models/credit-risk/compare?since=${T0 + 20_000}&a=v9&b=v1`)).body
    const v9 = compare.versions.find((v: any) => v.version === 'v9')
    expect(v9).toMatchObject({ role: 'external', requests: 20, errors: 0, latency_ms: { mean: null, p50: null, p95: null, p99: null } })
    expect(v9.ground_truth.count).toBe(20)
    expect(v9.ground_truth.accuracy.value).toBe(1) // the partner's scores are right by construction
    expect(v9.ground_truth.auc.value).toBe(1)
    const v1 = compare.versions.find((v: any) => v.version === 'v1' && v.role === 'primary')
    expect(v1.ground_truth.count).toBe(20)
    expect(compare.significance).toMatchObject({ a: 'v9:external', b: 'v1:primary', metric: 'auc' })
    expect(compare.significance.p_value).not.toBeNull()
  })
})
