/**
 * Issue #2: every endpoint of the foundation against the real gateway and the committed
 * sample models, including each class of bad input. No answer here may be a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDIT_FEATURES, generateCreditRows } from '../../src/sample-data/credit-default.js'
import { assertOip, get, post, rawRequest, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const MAX_BODY_BYTES = 64 * 1024 // small, so the 413 case is cheap
let gw: Running
const rows = generateCreditRows(5, 42).map((r) => Object.fromEntries(CREDIT_FEATURES.map((f) => [f, (r as Record<string, number>)[f]])))
const predictUrl = (model = 'credit-risk', version = 'v1') => `${gw.url}/v1/models/${model}/versions/${version}/predict`
const inferUrl = (model = 'credit-risk', version = 'v1') => `${gw.url}/v2/models/${model}/versions/${version}/infer`
const tensorOf = (rs: Record<string, number>[]) => ({
  name: 'features', shape: [rs.length, CREDIT_FEATURES.length], datatype: 'FP32', data: rs.map((r) => CREDIT_FEATURES.map((f) => r[f])),
})

beforeAll(async () => {
  gw = await startGateway({ maxBodyBytes: MAX_BODY_BYTES })
})
afterAll(async () => gw.close())

// issue #13: GET / was a 404
describe('GET /', () => {
  it('answers a JSON index whose links all answer', async () => {
    const res = await get(`${gw.url}/`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'switchyard', version: expect.any(String) })
    for (const link of Object.values(res.body.links as Record<string, string>)) {
      const answer = await fetch(gw.url + link)
      expect([200, 401], link).toContain(answer.status) // the catalog and the routes need a token when auth is on
    }
    const docs = await fetch(`${gw.url}/docs/errors.md`)
    expect(docs.headers.get('content-type')).toMatch(/^text\/markdown/)
    expect(await docs.text()).toContain('VERSION_NOT_FOUND')
  })
})

describe('Open Inference Protocol: server and model metadata', () => {
  it('GET /v2 describes the server', async () => {
    const res = await get(`${gw.url}/v2`)
    expect(res.status).toBe(200)
    assertOip('metadata_server_response', res.body)
    expect(res.body.name).toBe('switchyard')
  })

  it('health: live and ready once every version has loaded', async () => {
    expect((await get(`${gw.url}/v2/health/live`)).status).toBe(200)
    expect(await get(`${gw.url}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } })
  })

  it('model metadata lists versions, inputs and outputs with -1 for dynamic dimensions', async () => {
    for (const path of ['/v2/models/credit-risk/versions/v2', '/v2/models/credit-risk']) {
      const res = await get(gw.url + path)
      expect(res.status).toBe(200)
      assertOip('metadata_model_response', res.body)
      expect(res.body).toMatchObject({
        name: 'credit-risk',
        versions: ['v1', 'v2', 'v3'],
        platform: 'onnx_onnxv1',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, CREDIT_FEATURES.length] }],
      })
      expect(res.body.outputs).toEqual(expect.arrayContaining([
        { name: 'label', datatype: 'INT64', shape: [-1] },
        { name: 'probability', datatype: 'FP32', shape: [-1] },
      ]))
    }
  })

  it('model and version ready', async () => {
    expect(await get(`${gw.url}/v2/models/iris/ready`)).toMatchObject({ status: 200, body: { name: 'iris', ready: true } })
    expect(await get(`${gw.url}/v2/models/credit-risk/versions/v3/ready`)).toMatchObject({ status: 200, body: { name: 'credit-risk', ready: true } })
  })
})

describe('native JSON predict, per version', () => {
  it('answers named predictions with an id per row, for every version', async () => {
    for (const version of ['v1', 'v2', 'v3']) {
      const res = await post(predictUrl('credit-risk', version), { instances: rows.slice(0, 3) })
      expect(res.status).toBe(200)
      expect(res.headers.get('x-model-version')).toBe(version)
      expect(res.body.model).toBe('credit-risk')
      expect(res.body.version).toBe(version)
      expect(res.body.predictions).toHaveLength(3)
      for (const p of res.body.predictions) {
        expect(Object.keys(p)).toEqual(['id', 'label', 'probability'])
        expect([0, 1]).toContain(p.label)
        expect(p.probability).toBeGreaterThanOrEqual(0)
        expect(p.probability).toBeLessThanOrEqual(1)
        expect(p.label).toBe(p.probability >= 0.5 ? 1 : 0)
      }
    }
  })

  it("echoes the caller's row ids", async () => {
    const res = await post(predictUrl(), { instances: [{ id: 'loan-1', ...rows[0] }, { id: 42, ...rows[1] }] })
    expect(res.body.predictions.map((p: { id: unknown }) => p.id)).toEqual(['loan-1', 42])
  })

  it('serves the multi-class iris model with class names', async () => {
    const res = await post(predictUrl('iris', 'v1'), { instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }, { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 }] })
    expect(res.status).toBe(200)
    expect(res.body.predictions.map((p: { label: string }) => p.label)).toEqual(['setosa', 'virginica'])
    const probs = res.body.predictions[0].probabilities
    expect(Object.keys(probs)).toEqual(['setosa', 'versicolor', 'virginica'])
    expect(probs.setosa + probs.versicolor + probs.virginica).toBeCloseTo(1, 5)
  })
})

describe('V2 infer', () => {
  it('runs typed tensors and answers a response valid against the protocol', async () => {
    const res = await post(inferUrl(), { id: 'req-1', inputs: [tensorOf(rows.slice(0, 2))] })
    expect(res.status).toBe(200)
    assertOip('inference_response', res.body)
    expect(res.body).toMatchObject({ model_name: 'credit-risk', model_version: 'v1', id: 'req-1' })
    const byName = Object.fromEntries(res.body.outputs.map((o: { name: string }) => [o.name, o]))
    expect(byName.label).toMatchObject({ datatype: 'INT64', shape: [2] })
    expect(byName.probability).toMatchObject({ datatype: 'FP32', shape: [2] })
  })

  it('returns only the outputs asked for', async () => {
    const res = await post(inferUrl(), { inputs: [tensorOf(rows.slice(0, 1))], outputs: [{ name: 'probability' }] })
    expect(res.status).toBe(200)
    expect(res.body.outputs.map((o: { name: string }) => o.name)).toEqual(['probability'])
    expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/) // no id sent: the generated inference id is returned
  })

  // issue #14: it answered with the newest ready version, whatever its stage
  it('without a version in the path and without a route, answers 503 saying what to configure', async () => {
    const res = await post(`${gw.url}/v2/models/credit-risk/infer`, { inputs: [tensorOf(rows.slice(0, 1))] })
    expect(res.status).toBe(503)
    expect(res.body.code).toBe('MODEL_NOT_ROUTED')
  })
})

describe('catalog', () => {
  it('GET /v1/models lists models, versions and states', async () => {
    const res = await get(`${gw.url}/v1/models`)
    expect(res.status).toBe(200)
    expect(res.body.models.map((m: { name: string }) => m.name)).toEqual(['credit-risk', 'iris'])
    expect(res.body.models[0].versions.map((v: { version: string; state: string }) => `${v.version}:${v.state}`)).toEqual(['v1:ready', 'v2:ready', 'v3:ready'])
  })

  it('GET /v1/models/{model} shows metadata, signature, training record and endpoints', async () => {
    const res = await get(`${gw.url}/v1/models/credit-risk`)
    expect(res.status).toBe(200)
    expect(res.body.task).toBe('binary-classification')
    const v1 = res.body.versions[0]
    expect(v1).toMatchObject({ version: 'v1', state: 'ready', reason: null, endpoints: { predict: '/v1/models/credit-risk/versions/v1/predict', infer: '/v2/models/credit-risk/versions/v1/infer' } })
    expect(v1.label).toEqual(expect.any(String))
    expect(v1.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(v1.signature.features.map((f: { name: string }) => f.name)).toEqual([...CREDIT_FEATURES])
    expect(v1.training.metrics.auc).toBeGreaterThan(0.5)
  })
})

describe('bad input gets a clear 4xx with a stable code, never a 5xx', () => {
  const valid = () => ({ instances: [rows[0]] })
  const cases: { name: string; send: () => Promise<{ status: number; body: any; headers: Headers }>; status: number; code: string; says?: RegExp }[] = [
    { name: 'malformed JSON', send: () => post(predictUrl(), '{"instances": [{'), status: 400, code: 'BODY_MALFORMED_JSON' },
    // routing runs before the body is parsed, yet a body that is not JSON is still what a caller hears about first
    { name: 'malformed JSON to a routed model that does not exist', send: () => post(`${gw.url}/v1/models/fraud/predict`, '{"instances": [{'), status: 400, code: 'BODY_MALFORMED_JSON' },
    { name: 'malformed JSON to V2 routed to a model that does not exist', send: () => post(`${gw.url}/v2/models/fraud/infer`, '{"inputs": ['), status: 400, code: 'BODY_MALFORMED_JSON' },
    { name: 'an array body on /predict, which names no model', send: () => post(`${gw.url}/predict`, '[]'), status: 400, code: 'BODY_INVALID' },
    { name: 'NaN literal', send: () => post(predictUrl(), `{"instances":[${JSON.stringify(rows[0]).replace(/"age":\d+/, '"age":NaN')}]}`), status: 400, code: 'BODY_MALFORMED_JSON', says: /NaN and Infinity/ },
    { name: 'a number too large (Infinity)', send: () => post(predictUrl(), `{"instances":[${JSON.stringify(rows[0]).replace(/"limit_bal":\d+/, '"limit_bal":1e999')}]}`), status: 400, code: 'FEATURE_MISTYPED', says: /limit_bal/ },
    { name: 'empty body', send: () => post(predictUrl(), ''), status: 400, code: 'BODY_MALFORMED_JSON' },
    { name: 'wrong content type', send: () => post(predictUrl(), JSON.stringify(valid()), { 'content-type': 'text/plain' }), status: 415, code: 'BODY_UNSUPPORTED_MEDIA_TYPE', says: /application\/json/ },
    { name: 'body over the limit', send: () => post(predictUrl(), { instances: Array(400).fill(rows[0]) }), status: 413, code: 'BODY_TOO_LARGE' },
    { name: 'huge body on V2', send: () => post(inferUrl(), { inputs: [tensorOf(Array(1000).fill(rows[0]))] }), status: 413, code: 'BODY_TOO_LARGE' },
    // instances[0] is a row given as an array (issue #16), of one value where 22 are needed
    { name: 'deeply nested body', send: () => post(predictUrl(), `{"instances":${'['.repeat(20_000)}${']'.repeat(20_000)}}`), status: 400, code: 'FEATURE_COUNT_MISMATCH', says: /has 1 value; .* in this order: limit_bal, / },
    { name: 'deeply nested tensor data', send: () => post(inferUrl(), `{"inputs":[{"name":"features","shape":[1,22],"datatype":"FP32","data":${'['.repeat(10_000)}${']'.repeat(10_000)}}]}`), status: 400, code: 'BODY_INVALID', says: /nested deeper/ },
    { name: 'missing feature', send: () => post(predictUrl(), { instances: [{ ...rows[0], age: undefined }] }), status: 400, code: 'FEATURE_MISSING', says: /'age'/ },
    { name: 'extra feature', send: () => post(predictUrl(), { instances: [{ ...rows[0], income: 5 }] }), status: 400, code: 'FEATURE_UNKNOWN', says: /'income'/ },
    { name: 'mistyped feature', send: () => post(predictUrl(), { instances: [{ ...rows[0], education: 'university' }] }), status: 400, code: 'FEATURE_MISTYPED', says: /education/ },
    { name: '__proto__ key', send: () => post(predictUrl(), `{"instances":[${JSON.stringify(rows[0]).slice(0, -1)},"__proto__":{"isAdmin":true}}]}`), status: 400, code: 'BODY_INVALID', says: /__proto__/ },
    // issue #14, finding 9: these were ignored and answered 200
    { name: 'a top-level __proto__ key', send: () => post(predictUrl(), `{"instances":[${JSON.stringify(rows[0])}],"__proto__":{"isAdmin":true}}`), status: 400, code: 'BODY_INVALID', says: /'__proto__' is not allowed/ },
    { name: 'a __proto__ key in a V2 input', send: () => post(inferUrl(), `{"inputs":[${JSON.stringify(tensorOf([rows[0]])).slice(0, -1)},"__proto__":{"x":1}}]}`), status: 400, code: 'BODY_INVALID', says: /'__proto__' is not allowed/ },
    { name: 'a constructor key spelt with escapes', send: () => post(inferUrl(), `{"inputs":[${JSON.stringify(tensorOf([rows[0]]))}],"\\u0063onstructor":1}`), status: 400, code: 'BODY_INVALID', says: /'constructor' is not allowed/ },
    { name: 'V2 data nested against the shape', send: () => post(inferUrl(), { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 22], data: [Array(21).fill(0), Array(23).fill(0)] }] }), status: 400, code: 'BODY_INVALID', says: /nested against its shape \[2, 22\]/ },
    // issue #14, finding 8: these were sized from the shape before anything was checked, and answered 500
    { name: 'a V2 shape of 250,000,000,000 rows', send: () => post(inferUrl(), { inputs: [{ name: 'features', datatype: 'FP32', shape: [250_000_000_000, 22], data: [0] }] }), status: 400, code: 'BATCH_TOO_LARGE' },
    { name: 'a V2 shape of 2^53-1 rows', send: () => post(inferUrl(), { inputs: [{ name: 'features', datatype: 'FP32', shape: [2 ** 53 - 1, 22], data: [0] }] }), status: 400, code: 'BATCH_TOO_LARGE' },
    { name: 'a V2 shape of 2^32 rows', send: () => post(inferUrl(), { inputs: [{ name: 'features', datatype: 'FP32', shape: [2 ** 32, 22], data: [] }] }), status: 400, code: 'BATCH_TOO_LARGE' },
    { name: 'no instances', send: () => post(predictUrl(), { rows: [] }), status: 400, code: 'BODY_INVALID' },
    { name: 'wrong tensor shape', send: () => post(inferUrl(), { inputs: [{ ...tensorOf([rows[0]]), shape: [1, 21], data: CREDIT_FEATURES.slice(1).map(() => 0) }] }), status: 400, code: 'TENSOR_SHAPE_MISMATCH' },
    { name: 'wrong tensor datatype', send: () => post(inferUrl(), { inputs: [{ ...tensorOf([rows[0]]), datatype: 'INT32' }] }), status: 400, code: 'TENSOR_DATATYPE_MISMATCH' },
    { name: 'tensor data not matching shape', send: () => post(inferUrl(), { inputs: [{ ...tensorOf([rows[0]]), shape: [2, 22] }] }), status: 400, code: 'TENSOR_DATA_SIZE_MISMATCH' },
    { name: 'unknown model', send: () => post(predictUrl('fraud'), valid()), status: 404, code: 'MODEL_NOT_FOUND', says: /credit-risk, iris/ },
    { name: 'unknown version', send: () => post(predictUrl('credit-risk', 'v9'), valid()), status: 404, code: 'VERSION_NOT_FOUND', says: /v1, v2, v3/ },
    { name: 'unknown model on V2 metadata', send: () => get(`${gw.url}/v2/models/fraud`), status: 404, code: 'MODEL_NOT_FOUND' },
    { name: 'unknown model in the catalog', send: () => get(`${gw.url}/v1/models/fraud`), status: 404, code: 'MODEL_NOT_FOUND' },
    { name: 'encoded path separator in a model name', send: () => rawRequest(gw.url, 'POST', '/v1/models/credit-risk%2F..%2Fx/versions/v1/predict', JSON.stringify(valid())), status: 400, code: 'NAME_INVALID' },
    { name: 'dot-dot version', send: () => rawRequest(gw.url, 'POST', '/v1/models/credit-risk/versions/../predict', JSON.stringify(valid())), status: 400, code: 'NAME_INVALID' },
    { name: 'encoded dot-dot model on V2', send: () => rawRequest(gw.url, 'GET', '/v2/models/%2E%2E/versions/v1'), status: 400, code: 'NAME_INVALID' },
    { name: 'backslash in a version', send: () => rawRequest(gw.url, 'POST', '/v2/models/credit-risk/versions/v1%5C..%5Cv2/infer', '{}'), status: 400, code: 'NAME_INVALID' },
    { name: 'leading-dot version', send: () => post(predictUrl('credit-risk', '.hidden'), valid()), status: 400, code: 'NAME_INVALID' },
    { name: 'GET on predict', send: () => get(predictUrl()), status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'unknown path', send: () => get(`${gw.url}/nope`), status: 404, code: 'ROUTE_NOT_FOUND' },
    { name: 'named predict on a tensor-only model input name', send: () => post(inferUrl(), { inputs: [{ ...tensorOf([rows[0]]), name: 'x' }] }), status: 400, code: 'TENSOR_INPUT_UNKNOWN', says: /features/ },
  ]

  it.each(cases)('$name → $status $code', async ({ send, status, code, says }) => {
    const res = await send()
    expect(res.status).toBe(status)
    expect(res.body.code).toBe(code)
    expect(typeof res.body.error).toBe('string')
    if (says) expect(res.body.error).toMatch(says)
    if (res.status < 500 && (res.body.code as string).startsWith('TENSOR')) assertOip('inference_error_response', res.body)
  })

  it('names the expected signature when features are wrong', async () => {
    const res = await post(predictUrl(), { instances: [{ ...rows[0], age: undefined }] })
    expect(res.body.expected.features.map((f: { name: string }) => f.name)).toEqual([...CREDIT_FEATURES])
  })

  it('a __proto__ key pollutes nothing and the server keeps answering', async () => {
    await post(predictUrl(), `{"instances":[{"__proto__":{"polluted":true}}]}`)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect((await post(predictUrl(), valid())).status).toBe(200)
  })
})
