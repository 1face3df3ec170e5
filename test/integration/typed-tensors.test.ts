/**
 * Issue #2: the V2 endpoint serves any ONNX model, not only the samples: a model built here
 * with inputs of every datatype JSON can carry (and no version.yaml) round-trips each one.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GraphBuilder } from '../../training/onnx/model-writer.js'
import type { ElementType } from '../../training/onnx/model-writer.js'
import { assertOip, get, post, startGateway } from './helpers.js'
import type { Running } from './helpers.js'

const TENSORS: { name: string; type: ElementType; datatype: string; data: unknown[] }[] = [
  { name: 'f32', type: 'float32', datatype: 'FP32', data: [0.5, -2.25] },
  { name: 'f64', type: 'float64', datatype: 'FP64', data: [0.1, 1e300] },
  { name: 'i32', type: 'int32', datatype: 'INT32', data: [-2147483648, 2147483647] },
  { name: 'i64', type: 'int64', datatype: 'INT64', data: [-9007199254740991, 9007199254740991] },
  { name: 'u8', type: 'uint8', datatype: 'UINT8', data: [0, 255] },
  { name: 'b', type: 'bool', datatype: 'BOOL', data: [true, false] },
  { name: 's', type: 'string', datatype: 'BYTES', data: ['héllo', ''] },
]

let dir: string
let gw: Running

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-typed-'))
  const g = new GraphBuilder('typed')
  for (const t of TENSORS) g.input(t.name, t.type, ['N']).node('Identity', [t.name], [`${t.name}_out`]).output(`${t.name}_out`, t.type, ['N'])
  mkdirSync(join(dir, 'typed', '1'), { recursive: true })
  writeFileSync(join(dir, 'typed', '1', 'model.onnx'), g.encode())
  gw = await startGateway({ modelsDir: dir })
})

afterAll(async () => {
  await gw.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('V2 typed tensors on a model with only model.onnx', () => {
  it('reports each input with its protocol datatype', async () => {
    const res = await get(`${gw.url}/v2/models/typed/versions/1`)
    assertOip('metadata_model_response', res.body)
    expect(res.body.inputs).toEqual(TENSORS.map((t) => ({ name: t.name, datatype: t.datatype, shape: [-1] })))
  })

  it('round-trips FP32, FP64, INT32, INT64, UINT8, BOOL and BYTES exactly', async () => {
    const res = await post(`${gw.url}/v2/models/typed/versions/1/infer`, {
      inputs: TENSORS.map((t) => ({ name: t.name, datatype: t.datatype, shape: [2], data: t.data })),
    })
    expect(res.status).toBe(200)
    assertOip('inference_response', res.body)
    for (const t of TENSORS) {
      const out = res.body.outputs.find((o: { name: string }) => o.name === `${t.name}_out`)
      expect(out).toMatchObject({ datatype: t.datatype, shape: [2] })
      expect(out.data).toEqual(t.type === 'float32' ? t.data.map((v) => Math.fround(v as number)) : t.data)
    }
  })

  it('refuses elements outside a datatype, naming the input and the element', async () => {
    const base = TENSORS.map((t) => ({ name: t.name, datatype: t.datatype, shape: [2], data: t.data }))
    for (const [name, bad] of [['i32', [2147483648, 0]], ['u8', [-1, 0]], ['b', ['true', false]], ['s', [1, 'x']]] as const) {
      const res = await post(`${gw.url}/v2/models/typed/versions/1/infer`, { inputs: base.map((i) => (i.name === name ? { ...i, data: bad } : i)) })
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('TENSOR_DATA_INVALID')
      expect(res.body.error).toContain(`input '${name}' element 0`)
    }
  })
})

// issue #14, finding 8: a BYTES tensor of [2^32] was sized before its data was counted: a 500
it('refuses a tensor whose shape is larger than its data before sizing anything', async () => {
  const base = TENSORS.map((t) => ({ name: t.name, datatype: t.datatype, shape: [2], data: t.data }))
  const res = await post(`${gw.url}/v2/models/typed/versions/1/infer`, { inputs: base.map((i) => (i.name === 's' ? { ...i, shape: [2 ** 32] } : i)) })
  expect(res.status).toBe(400)
  expect(res.body.code).toBe('BATCH_TOO_LARGE')
})
