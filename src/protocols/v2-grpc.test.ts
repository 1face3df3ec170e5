import { describe, expect, it } from 'vitest'
import type { ServingVersion } from '../runtime/model-pool.js'
import type { TensorSpec } from '../runtime/tensors.js'
import { decodeWith } from './protocol.js'
import { grpcInferBody, V2_GRPC } from './v2-grpc.js'
import type { ModelInferRequest } from './v2-grpc.js'

const inputs: TensorSpec[] = [
  { name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, 2] },
  { name: 'k', datatype: 'INT8', ortType: 'int8', shape: [-1] },
  { name: 'u', datatype: 'UINT64', ortType: 'uint64', shape: [-1] },
]
const version = { model: 'm', version: '1', inputs, outputs: [{ name: 'y', datatype: 'FP32', ortType: 'float32', shape: [-1] }] } as unknown as ServingVersion

/** A message as proto-loader gives it (defaults filled in). */
function message(overrides: Partial<ModelInferRequest> = {}): ModelInferRequest {
  return {
    model_name: 'm', model_version: '', id: '', parameters: {}, outputs: [], raw_input_contents: [],
    inputs: [
      { name: 'x', datatype: 'FP32', shape: ['1', '2'], parameters: {}, contents: { fp32_contents: [0.5, -1] } },
      { name: 'k', datatype: 'INT8', shape: ['1'], parameters: {}, contents: { int_contents: [-128] } },
      { name: 'u', datatype: 'UINT64', shape: ['1'], parameters: {}, contents: { uint64_contents: ['18446744073709551615'] } },
    ],
    ...overrides,
  }
}

const decode = (m: ModelInferRequest) => decodeWith(V2_GRPC, grpcInferBody(m), version, { maxRows: 10, callerId: null })

function errorOf(m: ModelInferRequest): { code: string; message: string } {
  try {
    decode(m)
  } catch (err) {
    return err as { code: string; message: string }
  }
  throw new Error('expected a throw')
}

describe('a ModelInferRequest as its V2 binary request', () => {
  it('turns typed contents into the feeds the JSON protocol would make, 64-bit values exact', () => {
    const d = decode(message({ id: 'r-1' }))
    expect(d.ids).toEqual(['r-1'])
    expect(d.feeds.map((f) => [f.name, f.type, Array.from(f.data as ArrayLike<unknown>), f.dims])).toEqual([
      ['x', 'float32', [0.5, -1], [1, 2]],
      ['k', 'int8', [-128], [1]],
      ['u', 'uint64', [18446744073709551615n], [1]],
    ])
    expect(d.binaryOutputs).toBeNull() // typed in, typed out
  })

  it('takes raw contents as they came and asks for raw outputs', () => {
    const raw = [Buffer.from(new Float32Array([0.5, -1]).buffer), Buffer.from([0x80]), Buffer.from(new BigUint64Array([7n]).buffer)]
    const d = decode(message({ raw_input_contents: raw, inputs: message().inputs.map((i) => ({ ...i, contents: null })) }))
    expect(Array.from(d.feeds[1].data as Int8Array)).toEqual([-128])
    expect(d.binaryOutputs).toEqual(new Set(['y']))
  })

  it('reads the request parameters as V2 JSON parameters, for routes that read fields', () => {
    const body = grpcInferBody(message({ parameters: { tenant: { parameter_choice: 'string_param', string_param: 'eu' }, n: { parameter_choice: 'int64_param', int64_param: '42' } } }))
    expect((body.value() as { parameters: unknown }).parameters).toEqual({ tenant: 'eu', n: 42 })
  })

  it.each([
    ['an INT8 value out of its range', message({ inputs: message().inputs.map((i) => (i.name === 'k' ? { ...i, contents: { int_contents: [128] } } : i)) }), 'TENSOR_DATA_INVALID', /input 'k' element 0 must be an integer from -128 to 127 \(INT8\)/],
    ['a count of raw contents that is not the inputs\'', message({ raw_input_contents: [Buffer.alloc(8)], inputs: message().inputs.map((i) => ({ ...i, contents: null })) }), 'BODY_INVALID', /raw_input_contents has 1 entries for 3 inputs/],
    ['a datatype with no typed field and no raw bytes', message({ inputs: [{ name: 'x', datatype: 'BF16', shape: ['1', '2'], parameters: {}, contents: null }] }), 'BODY_INVALID', /input 'x' is BF16, which has no typed contents/],
    ['an unknown datatype', message({ inputs: [{ name: 'x', datatype: 'FP8', shape: ['1', '2'], parameters: {}, contents: null }] }), 'TENSOR_DATATYPE_UNSUPPORTED', /datatype FP8 of 'x'/],
    ['an id that is not an inference id', message({ id: 'a b' }), 'INFERENCE_ID_INVALID', /"id"/],
  ])('refuses %s', (_what, m, code, text) => {
    const err = errorOf(m)
    expect(err.code).toBe(code)
    expect(err.message).toMatch(text)
  })
})
