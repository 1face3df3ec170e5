/**
 * Issue #4 on a real gateway with the SQLite store: every inference is recorded with its
 * id, role, inputs, outputs and what the caller attached; ground truth joins all records of
 * an id; the query API filters and pages; privacy rules apply before anything is stored.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createHmac } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { creditRecords, eventually, get, inParallel, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'
import { addRemoteVersion, startUpstream } from './remote-upstream.js'
import type { Upstream } from './remote-upstream.js'

const records = creditRecords(50, 11)
const HASH_KEY = 'test-hash-key'
let dir: string
let broken: Upstream
let gw: Running
let repo: string


async function inferences(model: string, query = ''): Promise<any[]> {
  const res = await get(`${gw.url}/v1/models/${model}/inferences?limit=1000${query}`)
  expect(res.status).toBe(200)
  return res.body.inferences
}

beforeAll(async () => {
  broken = await startUpstream('fail')
  dir = mkdtempSync(join(tmpdir(), 'switchyard-log-'))
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2', v3: 'v3' }, private: { v1: 'v1' } })
  addRemoteVersion(repo, 'credit-risk', 'broken', broken.url('credit-risk', 'broken'))
  appendFileSync(join(repo, 'private', 'model.yaml'), '\nprivacy:\n  drop: [age]\n  hash: [limit_bal]\n')
  writeFileSync(join(dir, 'routes.yaml'), `
routes:
  credit-risk:
    champion: v1
    sticky: header:x-customer
    labels: { stable: v1 }
    shadow: { v2: 100, broken: 100 }
    challengers: { v3: 100 }
`)
  gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill'), hashKey: HASH_KEY })
})

afterAll(async () => {
  await gw?.close()
  await broken?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the record of an inference', () => {
  it('keeps the primary, every shadow and the challenger under the caller\'s id, with inputs, outputs and attributes', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [records[0]], timestamp: '2026-11-01T08:00:00Z' }, {
      'x-inference-id': 'case-roles', 'x-customer': 'c-42', 'x-inference-attributes': 'region=eu&channel=web',
    })
    expect(res.status).toBe(200)
    expect(res.body.predictions[0].id).toBe('case-roles')
    const rows = await eventually(async () => {
      const found = (await inferences('credit-risk')).filter((r) => r.inference_id === 'case-roles')
      expect(found).toHaveLength(4)
      return found
    })
    const byVersion = Object.fromEntries(rows.map((r) => [r.version, r]))
    expect(byVersion.v1).toMatchObject({ role: 'primary', route: 'credit-risk', reason: 'champion', status: 200, revision: 1, attributes: { region: 'eu', channel: 'web' } })
    expect(byVersion.v1.timestamp).toBe('2026-11-01T08:00:00.000Z')
    expect(byVersion.v1.sticky_hash).toMatch(/^[0-9a-f]{8}$/)
    expect(byVersion.v1.inputs).toEqual(records[0])
    const { id: _id, ...primaryOutputs } = res.body.predictions[0]
    expect(byVersion.v1.outputs).toEqual(primaryOutputs)
    expect(byVersion.v2).toMatchObject({ role: 'shadow', status: 200, inputs: records[0] })
    expect(byVersion.v3).toMatchObject({ role: 'challenger', status: 200, inputs: records[0] })
    expect(byVersion.broken).toMatchObject({ role: 'shadow', status: 500, error_code: 'INFERENCE_FAILED', outputs: null })
    expect(Date.parse(byVersion.v1.server_timestamp)).toBeGreaterThan(Date.parse('2026-11-02T00:00:00Z'))
  })

  it('gives each row its own id: a row\'s id, the header\'s id with the row index, or a generated UUIDv7', async () => {
    const withHeader = await post(`${gw.url}/v1/models/credit-risk/versions/v2/predict`, { instances: [{ ...records[1], id: 'own' }, records[2]] }, { 'x-inference-id': 'batch' })
    expect(withHeader.body.predictions.map((p: any) => p.id)).toEqual(['own', 'batch:1'])
    const generated = await post(`${gw.url}/v1/models/credit-risk/versions/v2/predict`, { instances: [records[3], records[4]] })
    const ids: string[] = generated.body.predictions.map((p: any) => p.id)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect([...ids].sort()).toEqual(ids) // time-sortable, in row order
    const direct = await eventually(async () => {
      const found = (await inferences('credit-risk', '&role=direct')).filter((r) => ['own', 'batch:1', ...ids].includes(r.inference_id))
      expect(found).toHaveLength(4)
      return found
    })
    expect(direct.every((r) => r.version === 'v2' && r.route === null && r.revision === null)).toBe(true)
    expect(direct.find((r) => r.inference_id === 'batch:1').inputs).toEqual(records[2])
  })

  it('records Open Inference Protocol calls under the request id, generating one when the caller sends none', async () => {
    const tensor = { name: 'features', datatype: 'FP32', shape: [1, 22], data: Object.values(records[5]) }
    const named = await post(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, { id: 'v2-call', inputs: [tensor] })
    expect(named.body.id).toBe('v2-call')
    const unnamed = await post(`${gw.url}/v2/models/credit-risk/infer`, { inputs: [tensor] })
    expect(unnamed.status).toBe(200)
    expect(unnamed.body.id).toMatch(/^[0-9a-f-]{36}$/)
    const rows = await eventually(async () => {
      const found = (await inferences('credit-risk')).filter((r) => r.inference_id === 'v2-call' || r.inference_id === unnamed.body.id)
      expect(found.filter((r) => r.role === 'direct' || r.role === 'primary')).toHaveLength(2)
      return found
    })
    const direct = rows.find((r) => r.inference_id === 'v2-call')
    expect(direct.inputs).toEqual([tensor])
    expect(direct.outputs).toEqual(named.body.outputs)
  })

  it('refuses a V2 request id that is not an inference id (it would be the log\'s key)', async () => {
    const tensor = { name: 'features', datatype: 'FP32', shape: [1, 22], data: Object.values(records[5]) }
    for (const id of ['x\u0003predict\u0001forged', '', 'has space']) {
      const res = await post(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, { id, inputs: [tensor] })
      expect(res.status, JSON.stringify(id)).toBe(400)
      expect(res.body.code).toBe('INFERENCE_ID_INVALID')
    }
  })

  it('records a label call with its label as the route', async () => {
    await post(`${gw.url}/v1/models/credit-risk/labels/stable/predict`, { instances: [records[6]] }, { 'x-inference-id': 'via-label' })
    const [row] = await eventually(async () => {
      const found = (await inferences('credit-risk')).filter((r) => r.inference_id === 'via-label')
      expect(found).toHaveLength(1)
      return found
    })
    expect(row).toMatchObject({ role: 'direct', route: 'label:stable', version: 'v1' })
  })

  it('drops and hashes the private input fields the model names before storing them', async () => {
    await post(`${gw.url}/v1/models/private/versions/v1/predict`, { instances: [records[7]] }, { 'x-inference-id': 'private-1' })
    const [row] = await eventually(async () => {
      const found = await inferences('private')
      expect(found).toHaveLength(1)
      return found
    })
    expect(row.inputs).not.toHaveProperty('age')
    const expectedHash = `hmac-sha256:${createHmac('sha256', HASH_KEY).update(JSON.stringify(records[7].limit_bal)).digest('hex')}`
    expect(row.inputs.limit_bal).toBe(expectedHash)
    expect(row.inputs.pay_amt1).toBe(records[7].pay_amt1)
  })

  // issue #16: rows sent as arrays in signature order are answered and recorded as the records they stand for
  it('answers and records rows sent as arrays by feature name, as it does records', async () => {
    const features: string[] = (await get(`${gw.url}/v1/models/credit-risk`)).body.versions.find((v: { version: string }) => v.version === 'v1').signature.features.map((f: { name: string }) => f.name)
    const asArray = (r: Record<string, number>) => features.map((f) => r[f])
    const named = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [records[12], records[13]] })
    const positional = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [asArray(records[12]), records[13]] }, { 'x-inference-id': 'positional' })
    const plain = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, `{"instances":[${JSON.stringify(asArray(records[14]))}]}`, { 'x-inference-id': 'positional-plain' })
    expect(positional.status).toBe(200)
    const withoutIds = (body: { predictions: Record<string, unknown>[] }) => body.predictions.map(({ id: _id, ...rest }) => rest)
    expect(withoutIds(positional.body)).toEqual(withoutIds(named.body))
    expect(plain.status).toBe(200)
    const rows = await eventually(async () => {
      const found = (await inferences('credit-risk', '&version=v1')).filter((r) => String(r.inference_id).startsWith('positional'))
      expect(found).toHaveLength(3)
      return found
    })
    const byId = Object.fromEntries(rows.map((r) => [r.inference_id, r]))
    expect(byId['positional:0'].inputs).toEqual(records[12])
    expect(Object.keys(byId['positional:0'].inputs)).toEqual(features)
    expect(byId['positional:1'].inputs).toEqual(records[13])
    expect(byId['positional-plain'].inputs).toEqual(records[14])
    expect(byId['positional:0'].outputs).toEqual(withoutIds(named.body)[0])
  })

  it('answers an array row of the wrong length with 400 naming the features in order', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [[1, 2, 3]] })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('FEATURE_COUNT_MISMATCH')
    expect(res.body.error).toMatch(/^instances\[0\] has 3 values; a row sent as an array has one for each of the 22 features, in this order: limit_bal, /)
  })

  it('applies the privacy rules to rows sent as arrays', async () => {
    const features: string[] = (await get(`${gw.url}/v1/models/private`)).body.versions[0].signature.features.map((f: { name: string }) => f.name)
    await post(`${gw.url}/v1/models/private/versions/v1/predict`, { instances: [features.map((f) => records[15][f])] }, { 'x-inference-id': 'private-array' })
    const row = await eventually(async () => {
      const found = (await inferences('private')).find((r) => r.inference_id === 'private-array')
      expect(found).toBeDefined()
      return found
    })
    expect(row.inputs).not.toHaveProperty('age')
    expect(row.inputs.limit_bal).toMatch(/^hmac-sha256:/)
    expect(row.inputs.pay_amt2).toBe(records[15].pay_amt2)
  })

  // issue #13: a model.yaml edit needed a restart; a rescan read it but the writer kept the old rules
  it('applies an edited model.yaml\'s privacy rules from the next rescan on', async () => {
    const file = join(repo, 'private', 'model.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace('drop: [age]\n', 'drop: [age, pay_amt1]\n'))
    const outcome = await gw.gateway.pool.rescan()
    expect(outcome.changed).toEqual(['private'])
    await post(`${gw.url}/v1/models/private/versions/v1/predict`, { instances: [records[9]] }, { 'x-inference-id': 'private-2' })
    const row = await eventually(async () => {
      const found = (await inferences('private')).find((r) => r.inference_id === 'private-2')
      expect(found).toBeDefined()
      return found
    })
    expect(row.inputs).not.toHaveProperty('age')
    expect(row.inputs).not.toHaveProperty('pay_amt1')
    expect(row.inputs.pay_amt2).toBe(records[9].pay_amt2)
  })

  it.each([
    [{ 'x-inference-id': '' }, 'INFERENCE_ID_INVALID'],
    [{ 'x-inference-id': 'has space' }, 'INFERENCE_ID_INVALID'],
    [{ 'x-inference-timestamp': 'yesterday' }, 'TIMESTAMP_INVALID'],
    [{ 'x-inference-attributes': 'bad name=1' }, 'ATTRIBUTES_INVALID'],
  ])('answers bad caller metadata %j with 400 %s', async (headers, code) => {
    const res = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [records[8]] }, headers as Record<string, string>)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe(code)
  })

  it('answers a body with attributes that are not a flat map with 400', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk/versions/v1/predict`, { instances: [records[8]], attributes: { nested: { a: 1 } } })
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('ATTRIBUTES_INVALID')
  })
})

describe('ground truth', () => {
  it('joins to the primary, shadows and challenger of an id, reports unknown ids, and can be sent again', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `gt-${i}`)
    await inParallel(30, 5, (i) => post(`${gw.url}/v1/models/credit-risk/predict`, { instances: [records[i]] }, { 'x-inference-id': ids[i] }))
    await eventually(async () => expect((await inferences('credit-risk')).filter((r) => r.inference_id.startsWith('gt-'))).toHaveLength(120))
    const truth = [...ids.map((id, i) => ({ inference_id: id, label: i % 2 })), { inference_id: 'nobody', label: 1 }]
    const first = await post(`${gw.url}/v1/models/credit-risk/ground-truth`, truth)
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ model: 'credit-risk', received: 31, joined: 30, records: 120, unknown_ids: ['nobody'] })
    const again = await post(`${gw.url}/v1/models/credit-risk/ground-truth`, truth)
    expect(again.body).toEqual(first.body)
    const joined = (await inferences('credit-risk', '&has_ground_truth=true')).filter((r) => r.inference_id.startsWith('gt-'))
    expect(joined).toHaveLength(120)
    expect(new Set(joined.map((r) => r.role))).toEqual(new Set(['primary', 'shadow', 'challenger']))
    expect(joined.find((r) => r.inference_id === 'gt-3').ground_truth.label).toBe('1')
  })

  it('accepts thousands of items in one call', async () => {
    const truth = Array.from({ length: 5000 }, (_, i) => ({ inference_id: `bulk-${i}`, value: i / 10, timestamp: 1_763_000_000_000 }))
    const res = await post(`${gw.url}/v1/models/credit-risk/ground-truth`, truth)
    expect(res.status).toBe(200)
    expect(res.body.unknown_ids).toHaveLength(5000)
  })

  it.each([
    [{ inference_id: 'x', label: 1 }, 'must be a JSON array'],
    [[], 'empty'],
    [[{ label: 1 }], 'inference_id'],
    [[{ inference_id: 'x' }], "neither 'label' nor 'value'"],
    [[{ inference_id: 'x', value: 'high' }], 'finite number'],
    [[{ inference_id: 'x', label: 1, timestamp: 'soon' }], 'timestamp'],
    [[{ inference_id: 'x', label: 1, score: 2 }], "unknown field 'score'"],
  ])('answers %j with 400 GROUND_TRUTH_INVALID or TIMESTAMP_INVALID', async (body, words) => {
    const res = await post(`${gw.url}/v1/models/credit-risk/ground-truth`, body)
    expect(res.status).toBe(400)
    expect(['GROUND_TRUTH_INVALID', 'TIMESTAMP_INVALID']).toContain(res.body.code)
    expect(res.body.error).toContain(words)
  })

  it('answers an unknown model with 404', async () => {
    const res = await post(`${gw.url}/v1/models/nope/ground-truth`, [{ inference_id: 'x', label: 1 }])
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('MODEL_NOT_FOUND')
  })
})

describe('GET /v1/models/{model}/inferences', () => {
  it('pages through every record by cursor, newest first when asked', async () => {
    const all = await inferences('credit-risk', '&order=desc')
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await get(`${gw.url}/v1/models/credit-risk/inferences?order=desc&limit=7${cursor ? `&cursor=${cursor}` : ''}`)
      expect(res.status).toBe(200)
      seen.push(...res.body.inferences.map((r: any) => r.record_id))
      cursor = res.body.next_cursor
    } while (cursor !== null)
    expect(seen).toEqual(all.map((r) => r.record_id))
    expect(seen.length).toBeGreaterThan(100)
  })

  it('filters by version, role and time', async () => {
    const v3 = await inferences('credit-risk', '&version=v3&role=challenger')
    expect(v3.length).toBeGreaterThan(0)
    expect(v3.every((r) => r.version === 'v3' && r.role === 'challenger')).toBe(true)
    const past = await inferences('credit-risk', '&until=2026-11-02T00:00:00Z')
    expect(past.length).toBeGreaterThan(0)
    expect(past.every((r) => r.timestamp < '2026-11-02')).toBe(true)
  })

  it.each([
    ['role=boss', 'role'],
    ['since=tomorrow', 'since'],
    ['limit=0', 'limit'],
    ['has_ground_truth=maybe', 'has_ground_truth'],
    ['cursor=bm9wZQ', 'cursor'],
    ['order=sideways', 'order'],
  ])('answers ?%s with 400 QUERY_INVALID naming %s', async (query, name) => {
    const res = await get(`${gw.url}/v1/models/credit-risk/inferences?${query}`)
    expect(res.status).toBe(400)
    expect(res.body.code).toBe('QUERY_INVALID')
    expect(res.body.error).toContain(`'${name}'`)
  })
})

describe('stopping', () => {
  it('writes every answered inference before close() resolves', async () => {
    const repo = makeRepository({ m: { v1: 'v1' } })
    const store = join(dir, 'stop.db')
    const own = await startGateway({ modelsDir: repo, store: `sqlite:${store}`, spillDir: join(dir, 'spill-stop'), flushIntervalMs: 60_000 })
    const results = await inParallel(300, 20, (i) => post(`${own.url}/v1/models/m/versions/v1/predict`, { instances: [records[i % records.length]] }))
    expect(results.every((r) => r.status === 200)).toBe(true)
    await own.close() // the flush interval is a minute: only close() can have written them
    const reopened = await startGateway({ modelsDir: repo, store: `sqlite:${store}`, spillDir: join(dir, 'spill-stop') })
    try {
      expect(await reopened.gateway.inferenceLog.count('m')).toBe(300)
    } finally {
      await reopened.close()
    }
  })

  it('refuses log calls with 409 when the gateway runs without a store', async () => {
    const plain = await startGateway()
    try {
      const res = await post(`${plain.url}/v1/models/credit-risk/ground-truth`, [{ inference_id: 'x', label: 1 }])
      expect(res.status).toBe(409)
      expect(res.body.code).toBe('INFERENCE_LOG_DISABLED')
      // stages live in the same store: the answer says so, and how to start with one
      const stage = await post(`${plain.url}/v1/models/credit-risk/versions/v1/stage-requests`, { stage: 'Staging' })
      expect(stage.status).toBe(409)
      expect(stage.body.code).toBe('INFERENCE_LOG_DISABLED')
      expect(stage.body.error).toMatch(/stages.*--store sqlite:PATH/)
    } finally {
      await plain.close()
    }
  })
})
