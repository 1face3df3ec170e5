/**
 * Issue #16, point 4: TF Serving's REST API, as its clients send it: rows (`instances`) and
 * columns (`inputs`) to `:predict`, routed, on a version and on a label, answered as TF
 * Serving answers (`predictions`, `outputs`) with the numbers the V2 endpoint gives; its
 * status and metadata GETs; the record in the inference log; bad bodies as 4xx with a code.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../training/onnx/model-writer.js'
import { CREDIT_FEATURES } from '../../src/sample-data/credit-default.js'
import { REPO_MODELS, creditRecords, eventually, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

let dir: string
let repo: string
let gw: Running
const credit = creditRecords(3, 21).map((r) => CREDIT_FEATURES.map((f) => r[f]))
const flowers = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-tf-'))
  repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
  cpSync(join(REPO_MODELS, 'iris'), join(repo, 'iris'), { recursive: true })
  // several inputs, one of them a scalar with no batch dimension (as silero's sample rate), and a string echoed as *_bytes
  const g = new GraphBuilder('multi')
    .input('x', 'float32', ['N', 2]).node('Identity', ['x'], ['x_out']).output('x_out', 'float32', ['N', 2])
    .input('s', 'string', ['N']).node('Identity', ['s'], ['s_bytes']).output('s_bytes', 'string', ['N'])
    .input('sr', 'int64', []).node('Identity', ['sr'], ['sr_out']).output('sr_out', 'int64', [])
  mkdirSync(join(repo, 'multi', '1'), { recursive: true })
  writeFileSync(join(repo, 'multi', '1', 'model.onnx'), g.encode())
  // one output with no batch dimension: the sum of every input element
  const pooled = new GraphBuilder('pooled').input('x', 'float32', ['N', 2]).node('ReduceSum', ['x'], ['total'], { keepdims: 0 }).output('total', 'float32', [])
  mkdirSync(join(repo, 'pooled', '1'), { recursive: true })
  writeFileSync(join(repo, 'pooled', '1', 'model.onnx'), pooled.encode())
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    split: { v2: 100 }\n    shadow: { v1: 100 }\n    labels: { stable: v1 }\n')
  gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
})

afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
  rmSync(repo, { recursive: true, force: true })
})

/** The V2 endpoint's outputs for the same rows, by output name: each one's flat data. */
async function v2Outputs(path: string, rows: number[][]): Promise<Record<string, unknown[]>> {
  const res = await post(`${gw.url}${path}`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, rows[0].length], data: rows.flat() }] })
  expect(res.status).toBe(200)
  return Object.fromEntries(res.body.outputs.map((o: { name: string; data: unknown[] }) => [o.name, o.data]))
}

/** TF's `predictions` of several outputs, turned into flat data by output name, for comparing with V2. */
function byOutput(predictions: Record<string, unknown>[]): Record<string, unknown[]> {
  const names = Object.keys(predictions[0])
  return Object.fromEntries(names.map((n) => [n, predictions.flatMap((p) => p[n] as unknown)]))
}

describe('predict', () => {
  it('answers iris rows and columns, bare or named, with the V2 endpoint\'s numbers', async () => {
    const v2 = await v2Outputs('/v2/models/iris/versions/v1/infer', flowers)
    const url = `${gw.url}/v1/models/iris/versions/v1:predict`
    for (const instances of [flowers, flowers.map((f) => ({ features: f }))]) {
      const rows = await post(url, { signature_name: 'serving_default', instances })
      expect(rows.status).toBe(200)
      expect(Object.keys(rows.body)).toEqual(['predictions'])
      expect(rows.body.predictions).toHaveLength(3)
      expect(Object.keys(rows.body.predictions[0])).toEqual(['label', 'probabilities'])
      expect(rows.body.predictions[0].probabilities).toHaveLength(3)
      expect(byOutput(rows.body.predictions)).toEqual(v2)
    }
    for (const inputs of [flowers, { features: flowers }]) {
      const columns = await post(url, { inputs })
      expect(columns.status).toBe(200)
      expect(Object.keys(columns.body)).toEqual(['outputs'])
      expect(columns.body.outputs.label).toEqual(v2.label)
      expect(columns.body.outputs.probabilities).toHaveLength(3)
      expect(columns.body.outputs.probabilities.flat()).toEqual(v2.probabilities)
    }
  })

  it('routes by routes.yaml without a version, and serves a version and a label, as the V2 endpoint does', async () => {
    const routed = await post(`${gw.url}/v1/models/credit-risk:predict`, { instances: credit })
    expect(routed.status).toBe(200)
    expect(routed.headers.get('x-model-version')).toBe('v2')
    expect(routed.headers.get('x-model-role')).toBe('primary')
    expect(byOutput(routed.body.predictions)).toEqual(await v2Outputs('/v2/models/credit-risk/infer', credit))

    const direct = await post(`${gw.url}/v1/models/credit-risk/versions/v1:predict`, { inputs: { features: credit } })
    expect(direct.headers.get('x-model-version')).toBe('v1')
    const v1 = await v2Outputs('/v2/models/credit-risk/versions/v1/infer', credit)
    expect(direct.body.outputs).toEqual(v1)

    const label = await post(`${gw.url}/v1/models/credit-risk/labels/stable:predict`, { instances: credit })
    expect(label.headers.get('x-model-version')).toBe('v1')
    expect(byOutput(label.body.predictions)).toEqual(v1)

    // a client that escapes the colon reaches the same endpoint
    expect((await post(`${gw.url}/v1/models/credit-risk/versions/v1%3Apredict`, { instances: credit })).body).toEqual(label.body)
  })

  it('reads the body as JSON whatever its Content-Type, as TF Serving does (curl -d sends a form type)', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const res = await post(`${gw.url}/v1/models/iris/versions/v1:predict`, { instances: [flowers[0]] }, { 'content-type': type })
      expect(res.status).toBe(200)
    }
    const none = await fetch(`${gw.url}/v1/models/iris/versions/v1:predict`, { method: 'POST', body: Buffer.from(JSON.stringify({ instances: [flowers[0]] })) })
    expect(none.status).toBe(200)
  })

  it('takes several named inputs, a scalar one in columns, and strings as {"b64": ...}; answers *_bytes outputs as b64', async () => {
    const url = `${gw.url}/v1/models/multi/versions/1:predict`
    const hello = Buffer.from('héllo').toString('base64')
    const res = await post(url, { inputs: { x: [[1, 2], [3, 4]], s: [{ b64: hello }, 'plain'], sr: 16000 } })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ outputs: { x_out: [[1, 2], [3, 4]], s_bytes: [{ b64: hello }, { b64: Buffer.from('plain').toString('base64') }], sr_out: 16000 } })
    // rows cannot carry an input without a batch dimension
    const rows = await post(url, { instances: [{ x: [1, 2], s: 'a', sr: 16000 }] })
    expect(rows.status).toBe(400)
    expect(rows.body.code).toBe('TENSOR_SHAPE_MISMATCH')
    expect(rows.body.error).toContain("input 'sr'")
  })
})

describe('bad requests: 4xx with TF Serving\'s "error" and our "code"', () => {
  const url = () => `${gw.url}/v1/models/iris/versions/v1:predict`
  const cases: [string, unknown, number, string][] = [
    ['not an object', [[5.1, 3.5, 1.4, 0.2]], 400, 'BODY_INVALID'],
    ['both instances and inputs', { instances: flowers, inputs: flowers }, 400, 'BODY_INVALID'],
    ['neither', { signature_name: 'serving_default' }, 400, 'BODY_INVALID'],
    ['empty instances', { instances: [] }, 400, 'BODY_INVALID'],
    ['ragged rows', { instances: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2]] }, 400, 'TENSOR_RAGGED'],
    ['a ragged column', { inputs: [[5.1, 3.5, 1.4, 0.2], [6.7, [3.0], 5.2, 2.3]] }, 400, 'TENSOR_RAGGED'],
    ['rows of the wrong width', { instances: [[5.1, 3.5, 1.4]] }, 400, 'TENSOR_SHAPE_MISMATCH'],
    ['a wrong input name in rows', { instances: [{ petals: [5.1, 3.5, 1.4, 0.2] }] }, 400, 'TENSOR_INPUT_UNKNOWN'],
    ['a wrong input name in columns', { inputs: { petals: flowers } }, 400, 'TENSOR_INPUT_UNKNOWN'],
    ['a string where a number goes', { instances: [[5.1, 'x', 1.4, 0.2]] }, 400, 'TENSOR_DATA_INVALID'],
    ['another signature', { signature_name: 'predict_images', instances: flowers }, 400, 'TF_SIGNATURE_UNKNOWN'],
    ['a signature that is not a string', { signature_name: 1, instances: flowers }, 400, 'BODY_INVALID'],
  ]
  it.each(cases)('%s', async (_what, body, status, code) => {
    const res = await post(url(), body)
    expect(res.status).toBe(status)
    expect(res.body.code).toBe(code)
    expect(typeof res.body.error).toBe('string')
  })

  it('refuses bare rows and a bare column for a model of several inputs, naming them', async () => {
    for (const body of [{ instances: [[1, 2]] }, { inputs: [[1, 2]] }]) {
      const res = await post(`${gw.url}/v1/models/multi/versions/1:predict`, body)
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('BODY_INVALID')
      expect(res.body.error).toContain('x, s, sr')
    }
    const missing = await post(`${gw.url}/v1/models/multi/versions/1:predict`, { instances: [{ x: [1, 2], s: 'a' }] })
    expect(missing.body).toMatchObject({ code: 'TENSOR_INPUT_MISSING' })
    expect(missing.body.error).toContain('instances[0]')
  })

  it('answers a row request whose output has no row per instance with a hint to use columns', async () => {
    const url = `${gw.url}/v1/models/pooled/versions/1:predict`
    const rows = await post(url, { instances: [[1, 2], [3, 4]] })
    expect(rows.status).toBe(400)
    expect(rows.body.code).toBe('TF_ROW_OUTPUT_UNBATCHED')
    expect(rows.body.error).toContain('"inputs"')
    expect((await post(url, { inputs: [[1, 2], [3, 4]] })).body).toEqual({ outputs: 10 })
  })

  it('refuses :classify and :regress, the wrong method, and unknown models and versions', async () => {
    for (const verb of ['classify', 'regress']) {
      const res = await post(`${gw.url}/v1/models/iris:${verb}`, { examples: [{ x: 1 }] })
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('TF_METHOD_UNSUPPORTED')
      expect(res.body.error).toContain(':predict')
    }
    expect((await get(`${gw.url}/v1/models/iris:classify`)).body.code).toBe('TF_METHOD_UNSUPPORTED') // whatever the method
    const wrongMethod = await get(`${gw.url}/v1/models/iris:predict`)
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('POST')
    expect((await post(`${gw.url}/v1/models/half:predict`, { instances: [1] })).body.code).toBe('MODEL_NOT_FOUND')
    expect((await post(`${gw.url}/v1/models/iris/versions/9:predict`, { instances: [1] })).body.code).toBe('VERSION_NOT_FOUND')
    expect((await post(`${gw.url}/v1/models/credit-risk/labels/nope:predict`, { instances: credit })).body.code).toBe('LABEL_NOT_FOUND')
  })
})

describe('metrics', () => {
  it('counts TF Serving inferences and errors as the other endpoints\' ones', async () => {
    const metric = async (pattern: RegExp) => Number(pattern.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0)
    const answered = /switchyard_inferences_total\{model="pooled",version="1",route="direct",role="direct",outcome="ok"\} (\d+)/
    const refused = /switchyard_http_errors_total\{status="400",code="TF_SIGNATURE_UNKNOWN"\} (\d+)/
    const [before, errorsBefore] = [await metric(answered), await metric(refused)]
    expect((await post(`${gw.url}/v1/models/pooled/versions/1:predict`, { inputs: [[1, 2]] })).status).toBe(200)
    expect((await post(`${gw.url}/v1/models/pooled/versions/1:predict`, { signature_name: 'x', inputs: [[1, 2]] })).status).toBe(400)
    expect(await metric(answered)).toBe(before + 1)
    expect(await metric(refused)).toBe(errorsBefore + 1)
  })
})

describe('model status and metadata', () => {
  it('answers a version\'s and a label\'s status as TF Serving does', async () => {
    const res = await get(`${gw.url}/v1/models/iris/versions/v1`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ model_version_status: [{ version: 'v1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] })
    expect((await get(`${gw.url}/v1/models/credit-risk/labels/stable`)).body.model_version_status[0].version).toBe('v1')
    expect((await get(`${gw.url}/v1/models/iris/versions/v9`)).body.code).toBe('VERSION_NOT_FOUND')
  })

  it('keeps GET /v1/models/{m} the catalog, with TF Serving\'s model_version_status in it', async () => {
    const res = await get(`${gw.url}/v1/models/credit-risk`)
    expect(res.body.versions.map((v: { version: string }) => v.version)).toEqual(['v1', 'v2'])
    expect(res.body.model_version_status).toEqual(['v1', 'v2'].map((version) => ({ version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } })))
  })

  it('answers metadata as a serving_default signature_def, for the newest version, a version and a label', async () => {
    const res = await get(`${gw.url}/v1/models/iris/metadata`)
    expect(res.status).toBe(200)
    expect(res.body.model_spec).toEqual({ name: 'iris', signature_name: '', version: 'v1' })
    const signature = res.body.metadata.signature_def.signature_def.serving_default
    expect(signature.method_name).toBe('tensorflow/serving/predict')
    expect(signature.inputs.features).toEqual({ dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '4', name: '' }], unknown_rank: false }, name: 'features' })
    expect(Object.keys(signature.outputs)).toEqual(['label', 'probabilities'])
    expect(signature.outputs.label.dtype).toBe('DT_INT64')
    expect((await get(`${gw.url}/v1/models/credit-risk/versions/v1/metadata`)).body.model_spec.version).toBe('v1')
    expect((await get(`${gw.url}/v1/models/credit-risk/labels/stable/metadata`)).body.model_spec.version).toBe('v1')
  })
})

describe('the inference log', () => {
  it('records a TF Serving request with its inputs and outputs as sent and answered', async () => {
    const res = await post(`${gw.url}/v1/models/credit-risk:predict`, { instances: [credit[0]] }, { 'x-inference-id': 'tf-row-1' })
    expect(res.status).toBe(200)
    const columns = await post(`${gw.url}/v1/models/credit-risk/versions/v1:predict`, { inputs: { features: [credit[1]] } }, { 'x-inference-id': 'tf-col-1' })
    const find = (id: string, role: string) => eventually(async () => {
      const found = (await get(`${gw.url}/v1/models/credit-risk/inferences?limit=100`)).body.inferences.find((r: { inference_id: string; role: string }) => r.inference_id === id && r.role === role)
      expect(found).toBeDefined()
      return found
    })
    const row = await find('tf-row-1', 'primary')
    expect(row).toMatchObject({ version: 'v2', role: 'primary', status: 200 })
    expect(row.inputs).toEqual({ instances: [credit[0]] })
    expect(row.outputs).toEqual(res.body)
    const column = await find('tf-col-1', 'direct')
    expect(column).toMatchObject({ version: 'v1', role: 'direct', inputs: { inputs: { features: [credit[1]] } }, outputs: columns.body })
    // the shadow's record keeps its outputs as TF Serving columns: the same numbers v1 gave as a direct call
    const shadow = await find('tf-row-1', 'shadow')
    expect(shadow).toMatchObject({ version: 'v1', inputs: { instances: [credit[0]] } })
    const v1 = await v2Outputs('/v2/models/credit-risk/versions/v1/infer', [credit[0]])
    expect(shadow.outputs).toEqual({ outputs: v1 })
  })
})
