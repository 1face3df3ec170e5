/**
 * Issue #16, point 2: the Open Inference Protocol's binary tensor data extension, as Triton's
 * and KServe's clients send it: a JSON header, then each binary input's bytes; outputs as
 * binary when asked; FP16 and BF16 as binary data. Answers equal the JSON ones.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../training/onnx/model-writer.js'
import { halfToFloat } from '../../src/runtime/datatypes.js'
import { CREDIT_FEATURES } from '../../src/sample-data/credit-default.js'
import { creditRecords, eventually, get, makeRepository, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

let dir: string
let gw: Running
const record = creditRecords(1, 11)[0]
const features = CREDIT_FEATURES.map((f) => record[f])

/** A request of the extension: the JSON header, then the blobs; returns the answer's status, headers and body bytes. */
async function binaryInfer(path: string, header: unknown, blobs: Buffer[], extra: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const json = Buffer.from(JSON.stringify(header))
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(json.length), 'content-type': 'application/octet-stream', ...extra },
    body: Buffer.concat([json, ...blobs]),
  })
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) }
}

/** An answer of the extension: its JSON header, and each binary output's bytes by name. */
function splitAnswer(answer: { headers: Headers; bytes: Buffer }): { header: any; blobs: Map<string, Buffer> } {
  const length = Number(answer.headers.get('inference-header-content-length'))
  const header = JSON.parse(answer.bytes.subarray(0, length).toString('utf8'))
  const blobs = new Map<string, Buffer>()
  let at = length
  for (const output of header.outputs) {
    const size = output.parameters?.binary_data_size
    if (size === undefined) continue
    blobs.set(output.name, answer.bytes.subarray(at, at + size))
    at += size
  }
  expect(at).toBe(answer.bytes.length)
  return { header, blobs }
}

const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer)
const f16 = (values: number[]) => Buffer.from(new Uint16Array(values.map(halfBits)).buffer)
const bf16 = (values: number[]) => Buffer.from(new Uint16Array(values.map((v) => new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16)).buffer)

/** The FP16 bits of a value FP16 holds exactly (the tests send such values only). */
function halfBits(v: number): number {
  for (let h = 0; h < 0x7c00; h++) {
    if (halfToFloat(h) === Math.abs(v)) return v < 0 ? h | 0x8000 : h
  }
  throw new Error(`${v} is not exactly an FP16 value`)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-binary-'))
  const repo = makeRepository({ 'credit-risk': { v1: 'v1', v2: 'v2' } })
  // a model of every kind of tensor the extension carries, with no version.yaml
  const g = new GraphBuilder('typed')
  for (const [name, type] of [['h', 'float16'], ['s', 'string'], ['b', 'bool'], ['i', 'int64']] as const) {
    g.input(name, type, ['N']).node('Identity', [name], [`${name}_out`]).output(`${name}_out`, type, ['N'])
  }
  mkdirSync(join(repo, 'typed', '1'), { recursive: true })
  writeFileSync(join(repo, 'typed', '1', 'model.onnx'), g.encode())
  writeFileSync(join(dir, 'routes.yaml'), 'routes:\n  credit-risk:\n    split: { v2: 100 }\n')
  gw = await startGateway({ modelsDir: repo, routesPath: join(dir, 'routes.yaml'), store: `sqlite:${join(dir, 'log.db')}`, spillDir: join(dir, 'spill') })
})
afterAll(async () => {
  await gw?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('binary tensor data', () => {
  const jsonRequest = { inputs: [{ name: 'features', shape: [1, 22], datatype: 'FP32', data: features }] }
  const binaryHeader = (extra: Record<string, unknown> = {}) => ({ id: 'b-1', inputs: [{ name: 'features', shape: [1, 22], datatype: 'FP32', parameters: { binary_data_size: 88 } }], ...extra })

  it('is listed in GET /v2', async () => {
    expect((await get(`${gw.url}/v2`)).body.extensions).toContain('binary_tensor_data')
  })

  it('takes a binary input, whatever the Content-Type, and answers as the JSON request is answered', async () => {
    const json = await post(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, { id: 'b-1', ...jsonRequest })
    const binary = await binaryInfer('/v2/models/credit-risk/versions/v1/infer', binaryHeader(), [f32(features)])
    expect(binary.status).toBe(200)
    expect(binary.headers.get('content-type')).toMatch(/^application\/json/) // no binary output asked: a JSON answer
    expect(JSON.parse(binary.bytes.toString())).toEqual(json.body)
    const noType = await binaryInfer('/v2/models/credit-risk/versions/v1/infer', binaryHeader(), [f32(features)], { 'content-type': '' })
    expect(noType.status).toBe(200)
  })

  it('answers binary outputs when asked, for all of them or for one', async () => {
    const json = await post(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, jsonRequest)
    const all = await binaryInfer('/v2/models/credit-risk/versions/v1/infer', binaryHeader({ parameters: { binary_data_output: true } }), [f32(features)])
    expect(all.status).toBe(200)
    expect(all.headers.get('content-type')).toBe('application/octet-stream')
    const { header, blobs } = splitAnswer(all)
    const probability = json.body.outputs.find((o: { name: string }) => o.name === 'probability')
    expect(Array.from(new Float32Array(new Uint8Array(blobs.get('probability')!).buffer))).toEqual(probability.data)
    expect(Number(new BigInt64Array(new Uint8Array(blobs.get('label')!).buffer)[0])).toBe(json.body.outputs.find((o: { name: string }) => o.name === 'label').data[0])
    expect(header.outputs.find((o: { name: string }) => o.name === 'label')).toMatchObject({ datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } })

    const one = await binaryInfer('/v2/models/credit-risk/versions/v1/infer', binaryHeader({ outputs: [{ name: 'label' }, { name: 'probability', parameters: { binary_data: true } }] }), [f32(features)])
    const split = splitAnswer(one)
    expect(split.header.outputs[0]).toMatchObject({ name: 'label', data: json.body.outputs.find((o: { name: string }) => o.name === 'label').data })
    expect([...split.blobs.keys()]).toEqual(['probability'])
  })

  it('widens FP16 and BF16 inputs for a float32 model, exactly', async () => {
    const exact = features.map((v, k) => (k % 3) - 1 + 0.5) // values both half formats hold exactly
    const json = await post(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, { inputs: [{ name: 'features', shape: [1, 22], datatype: 'FP32', data: exact }] })
    for (const [datatype, bytes] of [['FP16', f16(exact)], ['BF16', bf16(exact)]] as const) {
      const answer = await binaryInfer('/v2/models/credit-risk/versions/v1/infer', { inputs: [{ name: 'features', shape: [1, 22], datatype, parameters: { binary_data_size: 44 } }] }, [bytes])
      expect(answer.status, datatype).toBe(200)
      expect(JSON.parse(answer.bytes.toString()).outputs).toEqual(json.body.outputs)
    }
  })

  it('carries FP16, BYTES, BOOL and INT64 tensors both ways', async () => {
    const strings = ['héllo', '', 'x']
    const stringBytes = Buffer.concat(strings.flatMap((s) => {
      const b = Buffer.from(s)
      const n = Buffer.alloc(4)
      n.writeUInt32LE(b.length)
      return [n, b]
    }))
    const header = {
      inputs: [
        { name: 'h', shape: [3], datatype: 'FP16', parameters: { binary_data_size: 6 } },
        { name: 's', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: stringBytes.length } },
        { name: 'b', shape: [3], datatype: 'BOOL', data: [true, false, true] },
        { name: 'i', shape: [3], datatype: 'INT64', parameters: { binary_data_size: 24 } },
      ],
      outputs: [{ name: 'h_out', parameters: { binary_data: true } }, { name: 's_out', parameters: { binary_data: true } }, { name: 'b_out' }, { name: 'i_out' }],
    }
    const answer = await binaryInfer('/v2/models/typed/versions/1/infer', header, [f16([1.5, -2, 0.25]), stringBytes, Buffer.from(new BigInt64Array([5n, -6n, 9007199254740991n]).buffer)])
    expect(answer.status).toBe(200)
    const { header: out, blobs } = splitAnswer(answer)
    expect(Array.from(new Uint16Array(new Uint8Array(blobs.get('h_out')!).buffer), halfToFloat)).toEqual([1.5, -2, 0.25])
    expect(blobs.get('s_out')).toEqual(stringBytes)
    expect(out.outputs.find((o: { name: string }) => o.name === 'b_out').data).toEqual([true, false, true])
    expect(out.outputs.find((o: { name: string }) => o.name === 'i_out').data).toEqual([5, -6, 9007199254740991])
    // FP16 as JSON output: its values, not its bits
    const jsonOut = await binaryInfer('/v2/models/typed/versions/1/infer', { ...header, outputs: [{ name: 'h_out' }] }, [f16([1.5, -2, 0.25]), stringBytes, Buffer.from(new BigInt64Array([5n, -6n, 1n]).buffer)])
    expect(JSON.parse(jsonOut.bytes.toString()).outputs[0]).toMatchObject({ datatype: 'FP16', data: [1.5, -2, 0.25] })
  })

  it.each([
    ['a size that is not shape × datatype', { inputs: [{ name: 'features', shape: [1, 22], datatype: 'FP32', parameters: { binary_data_size: 84 } }] }, [f32(features.slice(1))], 'TENSOR_BINARY_SIZE_MISMATCH', /input 'features' has 84 bytes of binary data where 22 elements of FP32, 4 bytes each make 88/],
    ['more bytes than the inputs say', binaryHeader(), [f32(features), Buffer.alloc(8)], 'TENSOR_BINARY_SIZE_MISMATCH', /96 bytes/],
    ['fewer bytes than the inputs say', binaryHeader(), [f32(features.slice(0, 10))], 'TENSOR_BINARY_SIZE_MISMATCH', /features/],
    ['INT64 for an FP32 input', { inputs: [{ name: 'features', shape: [1, 22], datatype: 'INT64', parameters: { binary_data_size: 176 } }] }, [Buffer.alloc(176)], 'TENSOR_DATATYPE_MISMATCH', /'features'/],
  ])('refuses %s with a 400 naming the input', async (_what, header, blobs, code, says) => {
    const answer = await binaryInfer('/v2/models/credit-risk/versions/v1/infer', header, blobs as Buffer[])
    expect(answer.status).toBe(400)
    const body = JSON.parse(answer.bytes.toString())
    expect(body.code).toBe(code)
    expect(body.error).toMatch(says)
  })

  it('refuses an Inference-Header-Content-Length past the body, and binary_data_size without the header', async () => {
    const res = await fetch(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, { method: 'POST', headers: { 'inference-header-content-length': '9999' }, body: '{}' })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { code: string }).code).toBe('BODY_INVALID')
    const noHeader = await post(`${gw.url}/v2/models/credit-risk/versions/v1/infer`, binaryHeader())
    expect(noHeader.status).toBe(400)
    expect(noHeader.body).toMatchObject({ code: 'PARAMETERS_INVALID', error: expect.stringMatching(/Inference-Header-Content-Length/) })
  })

  it('is routed by routes.yaml and recorded with its inputs and outputs as data', async () => {
    const answer = await binaryInfer('/v2/models/credit-risk/infer', { ...binaryHeader({ parameters: { binary_data_output: true } }), id: 'binary-routed' }, [f32(features)])
    expect(answer.status).toBe(200)
    expect(answer.headers.get('x-model-version')).toBe('v2')
    const { blobs } = splitAnswer(answer)
    const stored = await eventually(async () => {
      const found = (await get(`${gw.url}/v1/models/credit-risk/inferences?limit=100`)).body.inferences.find((r: { inference_id: string }) => r.inference_id === 'binary-routed')
      expect(found).toBeDefined()
      return found
    })
    expect(stored.inputs[0]).toMatchObject({ name: 'features', datatype: 'FP32', shape: [1, 22] })
    expect(stored.inputs[0].data).toEqual(Array.from(new Float32Array(f32(features).buffer)))
    const probability = stored.outputs.find((o: { name: string }) => o.name === 'probability')
    expect(probability.data).toEqual(Array.from(new Float32Array(new Uint8Array(blobs.get('probability')!).buffer)))
    expect(stored.version).toBe('v2')
  })
})
