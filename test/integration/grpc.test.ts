/**
 * Issue #16, point 3: the Open Inference Protocol over gRPC (inference.GRPCInferenceService),
 * called by a client built from proto/open_inference_grpc.proto with @grpc/grpc-js: each RPC;
 * ModelInfer with raw and with typed contents, answering what the V2 JSON endpoint answers for
 * the same input; routed by routes.yaml (reading metadata) or direct; the catalogue's errors
 * as gRPC statuses; predict auth; the inference log; --grpc-port 0.
 */
import { createHash } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import type { ServiceError } from '@grpc/grpc-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InferenceClient } from '../../src/grpc/client.js'
import type { ModelInferResponse } from '../../src/protocols/v2-grpc.js'
import { halfToFloat } from '../../src/runtime/datatypes.js'
import { GraphBuilder } from '../../training/onnx/model-writer.js'
import { creditRecords, eventually, get, makeRepository, post, REPO_MODELS, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

let dir: string
let gw: Running
let client: InferenceClient

/** A port free a moment ago: --grpc-port 0 turns gRPC off, so a test picks one. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

async function startWithGrpc(options: Parameters<typeof startGateway>[0]): Promise<{ gw: Running; address: string }> {
  const grpcPort = await freePort()
  const running = await startGateway({ ...options, grpcPort })
  return { gw: running, address: `127.0.0.1:${running.gateway.grpc!.port}` }
}

/** The rejection of `call`, as the ServiceError it is. */
async function failure(call: Promise<unknown>): Promise<ServiceError & { errorCode: string }> {
  const err = await call.then(() => { throw new Error('the call succeeded') }, (e: ServiceError) => e)
  return Object.assign(err, { errorCode: String(err.metadata?.get('x-error-code')[0]) })
}

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer)

/** Each output of a raw answer as the values V2 JSON would give: raw_output_contents[i] belongs to outputs[i]. */
function rawOutputs(response: ModelInferResponse): Record<string, { datatype: string; shape: number[]; data: unknown[] }> {
  return Object.fromEntries(response.outputs.map((o, i) => {
    const bytes = new Uint8Array(response.raw_output_contents[i]).buffer // a copy at offset 0, aligned
    const data = o.datatype === 'FP32' ? Array.from(new Float32Array(bytes))
      : o.datatype === 'INT64' ? Array.from(new BigInt64Array(bytes), Number)
        : o.datatype === 'FP16' ? Array.from(new Uint16Array(bytes), halfToFloat)
          : [...new Uint8Array(bytes)]
    return [o.name, { datatype: o.datatype, shape: o.shape.map(Number), data }]
  }))
}

/** Each output of a typed answer as V2 JSON gives it. */
function typedOutputs(response: ModelInferResponse): Record<string, { datatype: string; shape: number[]; data: unknown[] }> {
  expect(response.raw_output_contents).toEqual([])
  return Object.fromEntries(response.outputs.map((o) => {
    const c = o.contents!
    const data = o.datatype === 'FP32' ? c.fp32_contents! : o.datatype === 'INT64' ? c.int64_contents!.map(Number)
      : o.datatype === 'BOOL' ? c.bool_contents! : o.datatype === 'BYTES' ? c.bytes_contents!.map(String) : []
    return [o.name, { datatype: o.datatype, shape: o.shape.map(Number), data }]
  }))
}

/** The V2 JSON answer's outputs by name. */
function jsonOutputs(body: { outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] }) {
  return Object.fromEntries(body.outputs.map(({ name, datatype, shape, data }) => [name, { datatype, shape, data }]))
}

const IRIS_ROWS = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]
const credit = creditRecords(2, 16)
const CREDIT_FEATURES = Object.keys(credit[0])
const creditRows = credit.flatMap((r) => CREDIT_FEATURES.map((f) => r[f]))

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-grpc-'))
  const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
  cpSync(join(REPO_MODELS, 'iris'), join(repo, 'iris'), { recursive: true })
  // a model of the tensor kinds the sample models lack, with no version.yaml
  const g = new GraphBuilder('typed')
  for (const [name, type] of [['h', 'float16'], ['s', 'string'], ['b', 'bool'], ['i', 'int64']] as const) {
    g.input(name, type, ['N']).node('Identity', [name], [`${name}_out`]).output(`${name}_out`, type, ['N'])
  }
  mkdirSync(join(repo, 'typed', '1'), { recursive: true })
  writeFileSync(join(repo, 'typed', '1', 'model.onnx'), g.encode())
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    split: { v1: 100 }\n    match:\n      - if: { header: { x-tester: "true" } }\n        to: v2\n')
  const started = await startWithGrpc({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
  gw = started.gw
  client = new InferenceClient(started.address)
})

afterAll(async () => {
  client?.close()
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('health and metadata', () => {
  it('answers ServerLive, ServerReady and ServerMetadata as GET /v2 and /v2/health do', async () => {
    expect(await client.serverLive()).toEqual({ live: true })
    expect(await client.serverReady()).toEqual({ ready: true })
    const http = (await get(`${gw.url}/v2`)).body
    expect(await client.serverMetadata()).toEqual({ name: http.name, version: http.version, extensions: [] })
  })

  it('answers ModelReady for a model and for a version, NOT_FOUND for an unknown one', async () => {
    expect(await client.modelReady('iris')).toEqual({ ready: true })
    expect(await client.modelReady('credit-risk', 'v2')).toEqual({ ready: true })
    const unknown = await failure(client.modelReady('credit-risk', 'v9'))
    expect(unknown.code).toBe(status.NOT_FOUND)
    expect(unknown.errorCode).toBe('VERSION_NOT_FOUND')
  })

  it('answers ModelMetadata as GET /v2/models/{m}[/versions/{v}] does', async () => {
    for (const [name, version] of [['iris', ''], ['credit-risk', 'v2'], ['typed', '1']]) {
      const http = (await get(`${gw.url}/v2/models/${name}${version === '' ? '' : `/versions/${version}`}`)).body
      const meta = await client.modelMetadata(name, version)
      const numeric = (list: { name: string; datatype: string; shape: string[] }[]) => list.map((t) => ({ ...t, shape: t.shape.map(Number) }))
      expect({ ...meta, inputs: numeric(meta.inputs), outputs: numeric(meta.outputs) }).toEqual({ ...http, properties: {} })
    }
  })
})

describe('ModelInfer', () => {
  it('takes raw_input_contents and answers raw_output_contents equal to the V2 JSON answer', async () => {
    const json = await post(`${gw.url}/v2/models/iris/versions/v1/infer`, { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: IRIS_ROWS }] })
    expect(json.status).toBe(200)
    const { response, metadata } = await client.modelInfer({
      model_name: 'iris', model_version: 'v1', id: 'raw-1',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4] }],
      raw_input_contents: [f32(IRIS_ROWS)],
    })
    expect(response).toMatchObject({ model_name: 'iris', model_version: 'v1', id: 'raw-1' })
    expect(response.outputs.every((o) => o.contents === null)).toBe(true)
    expect(rawOutputs(response)).toEqual(jsonOutputs(json.body))
    expect(metadata.get('x-model-version')).toEqual(['v1'])
    expect(metadata.get('x-model-role')).toEqual(['direct'])
  })

  it('takes typed contents and answers typed contents equal to the V2 JSON answer', async () => {
    const body = { inputs: [{ name: 'features', shape: [2, 22], datatype: 'FP32', data: creditRows }] }
    const json = await post(`${gw.url}/v2/models/credit-risk/versions/v2/infer`, body)
    expect(json.status).toBe(200)
    const { response } = await client.modelInfer({
      model_name: 'credit-risk', model_version: 'v2',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 22], contents: { fp32_contents: creditRows } }],
    })
    expect(typedOutputs(response)).toEqual(jsonOutputs(json.body))
    // only the outputs asked for, in the order asked
    const one = await client.modelInfer({
      model_name: 'iris', model_version: 'v1', outputs: [{ name: 'probabilities' }],
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: IRIS_ROWS } }],
    })
    expect(one.response.outputs.map((o) => o.name)).toEqual(['probabilities'])
  })

  it('carries FP16 raw, and BYTES, BOOL and INT64 raw or typed', async () => {
    const strings = ['héllo', '', 'x']
    const lengthPrefixed = Buffer.concat(strings.flatMap((s) => [Buffer.from(new Uint32Array([Buffer.byteLength(s)]).buffer), Buffer.from(s)]))
    const half = Buffer.from(new Uint16Array([0x3e00, 0xc000, 0x3400]).buffer) // 1.5, -2, 0.25
    const inputs = [
      { name: 'h', datatype: 'FP16', shape: [3] },
      { name: 's', datatype: 'BYTES', shape: [3] },
      { name: 'b', datatype: 'BOOL', shape: [3] },
      { name: 'i', datatype: 'INT64', shape: [3] },
    ]
    const raw = await client.modelInfer({
      model_name: 'typed', model_version: '1', inputs,
      raw_input_contents: [half, lengthPrefixed, Buffer.from([1, 0, 1]), Buffer.from(new BigInt64Array([5n, -6n, 9007199254740993n]).buffer)],
    })
    const out = raw.response
    expect(out.outputs.map((o) => o.name)).toEqual(['h_out', 's_out', 'b_out', 'i_out'])
    expect(Array.from(new Uint16Array(new Uint8Array(out.raw_output_contents[0]).buffer), halfToFloat)).toEqual([1.5, -2, 0.25])
    expect(out.raw_output_contents[1]).toEqual(lengthPrefixed)
    expect([...out.raw_output_contents[2]]).toEqual([1, 0, 1])
    expect(Array.from(new BigInt64Array(new Uint8Array(out.raw_output_contents[3]).buffer))).toEqual([5n, -6n, 9007199254740993n]) // past 2^53, exact
    // typed inputs; FP16 has no typed field (an empty tensor needs none)
    const typedOnly = await client.modelInfer({
      model_name: 'typed', model_version: '1', outputs: [{ name: 's_out' }, { name: 'b_out' }, { name: 'i_out' }],
      inputs: [
        { name: 'h', datatype: 'FP16', shape: [0] },
        { name: 's', datatype: 'BYTES', shape: [2], contents: { bytes_contents: [Buffer.from('a'), Buffer.from('ü')] } },
        { name: 'b', datatype: 'BOOL', shape: [2], contents: { bool_contents: [false, true] } },
        { name: 'i', datatype: 'INT64', shape: [2], contents: { int64_contents: ['-9007199254740993', '7'] } },
      ],
    })
    const typed = typedOnly.response.outputs
    expect(typed.map((o) => o.contents)).toMatchObject([
      { bytes_contents: [Buffer.from('a'), Buffer.from('ü')] },
      { bool_contents: [false, true] },
      { int64_contents: ['-9007199254740993', '7'] },
    ])
    const fp16Typed = await failure(client.modelInfer({ model_name: 'typed', model_version: '1', inputs: [{ ...inputs[0], contents: { fp32_contents: [1, 2, 3] } }] }))
    expect(fp16Typed.code).toBe(status.INVALID_ARGUMENT)
    expect(fp16Typed.details).toMatch(/input 'h' is FP16, which has no typed contents; send its bytes in raw_input_contents/)
  })

  it('goes through routes.yaml without a version (reading metadata as headers), to the version named with one', async () => {
    const request = { model_name: 'credit-risk', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 22] }], raw_input_contents: [f32(creditRows)] }
    const routed = await client.modelInfer(request)
    expect(routed.response.model_version).toBe('v1')
    expect(routed.metadata.get('x-routes-revision')).toEqual(['1'])
    const matched = await client.modelInfer(request, { 'x-tester': 'true' })
    expect(matched.response.model_version).toBe('v2')
    const direct = await client.modelInfer({ ...request, model_version: 'v2' })
    expect(direct.response.model_version).toBe('v2')
    expect(direct.metadata.get('x-routes-revision')).toEqual([])
    expect(direct.response.raw_output_contents).toEqual(matched.response.raw_output_contents)
  })

  it('records the inference with its inputs and outputs as data, like a V2 one', async () => {
    const { response } = await client.modelInfer({
      model_name: 'credit-risk', id: 'grpc-recorded',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 22] }], raw_input_contents: [f32(creditRows)],
    }, { 'x-inference-attributes': 'channel=grpc' })
    const stored = await eventually(async () => {
      const found = (await get(`${gw.url}/v1/models/credit-risk/inferences?limit=100`)).body.inferences.find((r: { inference_id: string }) => r.inference_id === 'grpc-recorded')
      expect(found).toBeDefined()
      return found
    })
    expect(stored).toMatchObject({ version: 'v1', role: 'primary', route: 'credit-risk', status: 200, attributes: { channel: 'grpc' } })
    expect(stored.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [2, 22], data: Array.from(new Float32Array(f32(creditRows).buffer)) }])
    const answered = rawOutputs(response)
    for (const output of stored.outputs) expect(output.data).toEqual(answered[output.name].data)
  })
})

describe('errors, as gRPC statuses with the catalogue code in x-error-code', () => {
  const features = { name: 'features', datatype: 'FP32', shape: [2, 22] }
  it.each([
    ['an unknown model', { model_name: 'fraud', inputs: [features], raw_input_contents: [f32(creditRows)] }, status.NOT_FOUND, 'MODEL_NOT_FOUND', /model 'fraud' is not served here/],
    ['an unknown version', { model_name: 'credit-risk', model_version: 'v7', inputs: [features], raw_input_contents: [f32(creditRows)] }, status.NOT_FOUND, 'VERSION_NOT_FOUND', /no version 'v7'/],
    ['a wrong shape', { model_name: 'credit-risk', model_version: 'v1', inputs: [{ ...features, shape: [2, 21] }], raw_input_contents: [f32(creditRows.slice(0, 42))] }, status.INVALID_ARGUMENT, 'TENSOR_SHAPE_MISMATCH', /input 'features' must have shape \[-1, 22\]/],
    ['raw bytes that are not shape × datatype', { model_name: 'credit-risk', inputs: [features], raw_input_contents: [f32(creditRows.slice(1))] }, status.INVALID_ARGUMENT, 'TENSOR_BINARY_SIZE_MISMATCH', /input 'features' has 172 bytes/],
    ['typed contents fewer than the shape holds', { model_name: 'credit-risk', inputs: [{ ...features, contents: { fp32_contents: creditRows.slice(1) } }] }, status.INVALID_ARGUMENT, 'TENSOR_DATA_SIZE_MISMATCH', /input 'features' has 43 data elements but its shape holds 44/],
    ['typed contents in the wrong field', { model_name: 'credit-risk', inputs: [{ ...features, contents: { int_contents: [1] } }] }, status.INVALID_ARGUMENT, 'BODY_INVALID', /input 'features' is FP32, whose elements go in contents.fp32_contents, not contents.int_contents/],
    ['raw and typed contents mixed', { model_name: 'credit-risk', inputs: [{ ...features, contents: { fp32_contents: creditRows } }], raw_input_contents: [f32(creditRows)] }, status.INVALID_ARGUMENT, 'BODY_INVALID', /send every input one way/],
    ['a datatype that is not the model\'s', { model_name: 'credit-risk', inputs: [{ ...features, datatype: 'INT32', contents: { int_contents: creditRows.map(Math.round) } }] }, status.INVALID_ARGUMENT, 'TENSOR_DATATYPE_MISMATCH', /input 'features' must have datatype FP32, got INT32/],
    ['an invalid model name', { model_name: '../etc', inputs: [] }, status.INVALID_ARGUMENT, 'NAME_INVALID', /model name '..\/etc' is not valid/],
  ])('%s', async (_what, request, code, errorCode, message) => {
    const err = await failure(client.modelInfer(request))
    expect(err.code).toBe(code)
    expect(err.errorCode).toBe(errorCode)
    expect(err.details).toMatch(message)
  })

  it('refuses a message larger than --max-body-bytes with RESOURCE_EXHAUSTED', async () => {
    const big = Buffer.alloc(gw.gateway.options.maxBodyBytes + 1)
    const err = await failure(client.modelInfer({ model_name: 'credit-risk', inputs: [features], raw_input_contents: [big] }))
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED)
  })

  it('counts inferences in the same metrics as HTTP, and error answers in switchyard_grpc_errors_total', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text()
    expect(text).toMatch(/switchyard_grpc_errors_total\{status="NOT_FOUND",code="MODEL_NOT_FOUND"\} [1-9]/)
    expect(text).toMatch(/switchyard_inferences_total\{model="credit-risk",version="v1",route="credit-risk",role="primary",outcome="ok"\} [1-9]/)
  })
})

describe('with predict auth on', () => {
  const token = (name: string) => `sy_test_${name}`
  const digest = (name: string) => createHash('sha256').update(token(name)).digest('hex')
  let secured: Running
  let address: string

  beforeAll(async () => {
    const started = await startWithGrpc({ auth: true, tokensPath: join(dir, 'no-tokens.yaml'), tokensFromEnv: `pete:predictor:${digest('pete')},vera:viewer:${digest('vera')}`, predictRequiresToken: true })
    secured = started.gw
    address = started.address
  })
  afterAll(() => secured?.close())

  it('needs a bearer token with the predict right in the authorization metadata', async () => {
    const request = { model_name: 'iris', model_version: 'v1', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32(IRIS_ROWS.slice(0, 4))] }
    const anonymous = new InferenceClient(address)
    const viewer = new InferenceClient(address, { authorization: `Bearer ${token('vera')}` })
    const predictor = new InferenceClient(address, { authorization: `Bearer ${token('pete')}` })
    try {
      expect((await failure(anonymous.modelInfer(request))).code).toBe(status.UNAUTHENTICATED)
      expect((await failure(anonymous.modelInfer(request, { authorization: 'Bearer sy_wrong' }))).code).toBe(status.UNAUTHENTICATED)
      const forbidden = await failure(viewer.modelInfer(request))
      expect([forbidden.code, forbidden.errorCode]).toEqual([status.PERMISSION_DENIED, 'FORBIDDEN'])
      expect((await predictor.modelInfer(request)).response.model_name).toBe('iris')
      expect(await anonymous.serverReady()).toEqual({ ready: true }) // health and metadata stay open, as over HTTP
    } finally {
      for (const c of [anonymous, viewer, predictor]) c.close()
    }
  })
})

describe('--grpc-port', () => {
  it('0 turns the gRPC service off', async () => {
    const off = await startGateway({ grpcPort: 0 })
    try {
      expect(off.gateway.grpc).toBeNull()
    } finally {
      await off.close()
    }
  })

  it('stops with the gateway: afterwards a call is UNAVAILABLE', async () => {
    const { gw: stopping, address } = await startWithGrpc({})
    const c = new InferenceClient(address)
    try {
      expect(await c.serverLive()).toEqual({ live: true })
      await stopping.close()
      expect((await failure(c.serverLive())).code).toBe(status.UNAVAILABLE)
    } finally {
      c.close()
    }
  })
})
