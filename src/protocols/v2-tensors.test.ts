import { describe, expect, it } from 'vitest'
import type { TensorSpec } from '../runtime/tensors.js'
import { decodeInferRequest, encodeInferResponse } from './v2-tensors.js'

const inputs: TensorSpec[] = [
  { name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, 2] },
  { name: 'n', datatype: 'INT64', ortType: 'int64', shape: [-1] },
  { name: 's', datatype: 'BYTES', ortType: 'string', shape: [-1] },
  { name: 'b', datatype: 'BOOL', ortType: 'bool', shape: [-1] },
]
const outputs: TensorSpec[] = [
  { name: 'y', datatype: 'FP32', ortType: 'float32', shape: [-1] },
  { name: 'big', datatype: 'INT64', ortType: 'int64', shape: [-1] },
]
const ok = () => ({
  id: 'r1',
  inputs: [
    { name: 'x', shape: [2, 2], datatype: 'FP32', data: [[1, 2], [3, 4]] },
    { name: 'n', shape: [2], datatype: 'INT64', data: [5, -6] },
    { name: 's', shape: [2], datatype: 'BYTES', data: ['a', 'é'] },
    { name: 'b', shape: [2], datatype: 'BOOL', data: [true, false] },
  ],
})

function errorOf(body: unknown): { code: string; message: string } {
  try {
    decodeInferRequest(body, inputs, outputs, 100)
  } catch (err) {
    return err as { code: string; message: string }
  }
  throw new Error('expected a throw')
}

describe('V2 request decoding', () => {
  it('turns nested or flat data into typed feeds in model input order', () => {
    const body = ok()
    body.inputs.reverse()
    const d = decodeInferRequest(body, inputs, outputs, 100)
    expect(d.id).toBe('r1')
    expect(d.rows).toBe(2)
    expect(d.outputs).toBeNull()
    expect(d.feeds.map((f) => f.name)).toEqual(['x', 'n', 's', 'b'])
    expect(d.feeds[0].data).toEqual(new Float32Array([1, 2, 3, 4]))
    expect(d.feeds[1].data).toEqual(new BigInt64Array([5n, -6n]))
    expect(d.feeds[2].data).toEqual(['a', 'é'])
    expect(d.feeds[3].data).toEqual(new Uint8Array([1, 0]))
  })

  it('honours outputs selection and refuses unknown outputs', () => {
    expect(decodeInferRequest({ ...ok(), outputs: [{ name: 'big' }] }, inputs, outputs, 100).outputs).toEqual(['big'])
    expect(errorOf({ ...ok(), outputs: [{ name: 'nope' }] }).code).toBe('OUTPUT_UNKNOWN')
  })

  it.each([
    ['a non-object body', [1, 2], 'BODY_INVALID'],
    ['no inputs', { inputs: [] }, 'BODY_INVALID'],
    ['an unknown input', { inputs: [...ok().inputs, { name: 'zz', shape: [1], datatype: 'FP32', data: [1] }] }, 'TENSOR_INPUT_UNKNOWN'],
    ['a missing input', { inputs: ok().inputs.slice(1) }, 'TENSOR_INPUT_MISSING'],
    ['a duplicate input', { inputs: [...ok().inputs, ok().inputs[0]] }, 'TENSOR_INPUT_DUPLICATE'],
    ['a wrong datatype', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, datatype: 'FP64' } : i)) }, 'TENSOR_DATATYPE_MISMATCH'],
    ['FP16', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, datatype: 'FP16' } : i)) }, 'TENSOR_DATATYPE_UNSUPPORTED'],
    ['a wrong rank', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, shape: [4] } : i)) }, 'TENSOR_SHAPE_MISMATCH'],
    ['a wrong fixed dim', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, shape: [1, 4] } : i)) }, 'TENSOR_SHAPE_MISMATCH'],
    ['a negative dim', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, shape: [-1, 2] } : i)) }, 'BODY_INVALID'],
    ['too few elements', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, data: [1, 2, 3] } : i)) }, 'TENSOR_DATA_SIZE_MISMATCH'],
    ['too many elements', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, data: [1, 2, 3, 4, 5] } : i)) }, 'TENSOR_DATA_SIZE_MISMATCH'],
    ['a string in FP32', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, data: [1, '2', 3, 4] } : i)) }, 'TENSOR_DATA_INVALID'],
    ['a fraction in INT64', { inputs: ok().inputs.map((i) => (i.name === 'n' ? { ...i, data: [1.5, 2] } : i)) }, 'TENSOR_DATA_INVALID'],
    ['an unsafe INT64', { inputs: ok().inputs.map((i) => (i.name === 'n' ? { ...i, data: [2 ** 60, 2] } : i)) }, 'TENSOR_DATA_INVALID'],
    ['a number in BOOL', { inputs: ok().inputs.map((i) => (i.name === 'b' ? { ...i, data: [1, 0] } : i)) }, 'TENSOR_DATA_INVALID'],
    ['Infinity in FP32', JSON.parse('{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1e999,1]}]}'), 'TENSOR_DATA_INVALID'],
    ['data nested deeper than the shape', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, data: [[[1, 2]], [[3, 4]]] } : i)) }, 'BODY_INVALID'],
    ['nested parameters', { ...ok(), parameters: { a: { b: 1 } } }, 'PARAMETERS_INVALID'],
    ['binary_data_size in a JSON body', { inputs: ok().inputs.map((i) => (i.name === 'x' ? { ...i, parameters: { binary_data_size: 16 } } : i)) }, 'PARAMETERS_INVALID'],
    ['binary_data_output that is not a boolean', { ...ok(), parameters: { binary_data_output: 'yes' } }, 'PARAMETERS_INVALID'],
    ['a non-string id', { ...ok(), id: 5 }, 'BODY_INVALID'],
  ])('rejects %s with %s', (_name, body, code) => {
    expect(errorOf(body).code).toBe(code)
  })

  it('reports -1 rows when inputs do not share a first dimension', () => {
    const body = ok()
    body.inputs[1] = { name: 'n', shape: [3], datatype: 'INT64', data: [1, 2, 3] }
    expect(decodeInferRequest(body, inputs, outputs, 100).rows).toBe(-1)
  })
})

describe('V2 response encoding', () => {
  it('writes every INT64 digit, turns non-finite floats into null, and keeps the selection order', () => {
    const json = encodeInferResponse('m', '2', 'r1', {
      y: { type: 'float32', data: new Float32Array([0.5, NaN]), dims: [2] },
      big: { type: 'int64', data: new BigInt64Array([9007199254740993n, -1n]), dims: [2] },
    }, outputs, ['big', 'y'])
    expect(json).toBe('{"model_name":"m","model_version":"2","id":"r1","outputs":[{"name":"big","datatype":"INT64","shape":[2],"data":[9007199254740993,-1]},{"name":"y","datatype":"FP32","shape":[2],"data":[0.5,null]}]}')
  })
})
