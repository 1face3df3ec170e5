import { describe, expect, it } from 'vitest'
import { compileSignature } from '../runtime/signature.js'
import { encodeInstances, encodePredictions } from './records.js'
import type { TensorSpec } from '../runtime/tensors.js'

const inputs: TensorSpec[] = [{ name: 'features', datatype: 'FP32', ortType: 'float32', shape: [-1, 3] }]
const outputs: TensorSpec[] = [
  { name: 'label', datatype: 'INT64', ortType: 'int64', shape: [-1] },
  { name: 'probabilities', datatype: 'FP32', ortType: 'float32', shape: [-1, 2] },
]
const sig = compileSignature(
  {
    input: 'features',
    features: [{ name: 'a', type: 'number' }, { name: 'b', type: 'integer' }, { name: 'c', type: 'number' }],
    outputs: [{ name: 'label', output: 'label', classes: ['no', 'yes'] }, { name: 'scores', output: 'probabilities', classes: ['no', 'yes'] }],
  },
  inputs,
  outputs,
)

function codeOf(fn: () => unknown): { code: string; message: string; status: number } {
  try {
    fn()
  } catch (err) {
    return err as { code: string; message: string; status: number }
  }
  throw new Error('expected a throw')
}

describe('signature to tensor', () => {
  it('packs records into a row-major [N, F] tensor in signature order, whatever the key order', () => {
    const { feeds: [feed], rows, ids } = encodeInstances([{ c: 3, b: 2, a: 1.5 }, { a: -1, b: 0, c: 1e-3 }], sig, 10)
    expect(rows).toBe(2)
    expect(feed.dims).toEqual([2, 3])
    expect(Array.from(feed.data as Float32Array)).toEqual([1.5, 2, 3, -1, 0, Math.fround(1e-3)])
    expect(ids).toHaveLength(2)
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('packs rows given as arrays in signature order like the records they stand for (issue #16)', () => {
    const asArrays = encodeInstances([[1.5, 2, 3], [-1, 0, 1e-3]], sig, 10)
    expect(Array.from(asArrays.feeds[0].data as Float32Array)).toEqual([1.5, 2, 3, -1, 0, Math.fround(1e-3)])
    expect(asArrays.recordedBody?.toString()).toBe('{"instances":[{"a":1.5,"b":2,"c":3},{"a":-1,"b":0,"c":0.001}]}')
    expect(encodeInstances([{ a: 1.5, b: 2, c: 3 }], sig, 10).recordedBody).toBeUndefined() // records are kept as sent
  })

  it("keeps a row's own id and does not count it as a feature", () => {
    expect(encodeInstances([{ id: 'case-17', a: 1, b: 2, c: 3 }], sig, 10).ids).toEqual(['case-17'])
  })

  it.each([
    { name: 'missing feature', rows: [{ a: 1, c: 3 }], code: 'FEATURE_MISSING', text: "instances[0] lacks feature 'b'" },
    { name: 'extra feature', rows: [{ a: 1, b: 2, c: 3, d: 4 }], code: 'FEATURE_UNKNOWN', text: "feature 'd'" },
    { name: '__proto__ key', rows: [JSON.parse('{"a":1,"b":2,"c":3,"__proto__":{"x":1}}')], code: 'FEATURE_UNKNOWN', text: "'__proto__'" },
    { name: 'string value', rows: [{ a: '1', b: 2, c: 3 }], code: 'FEATURE_MISTYPED', text: 'instances[0].a must be a finite number, got the string "1"' },
    { name: 'fraction for an integer', rows: [{ a: 1, b: 2.5, c: 3 }], code: 'FEATURE_MISTYPED', text: 'instances[0].b must be an integer, got 2.5' },
    { name: 'Infinity from 1e400', rows: [JSON.parse('{"a":1e400,"b":2,"c":3}')], code: 'FEATURE_MISTYPED', text: 'a number too large' },
    { name: 'null value', rows: [{ a: null, b: 2, c: 3 }], code: 'FEATURE_MISTYPED', text: 'got null' },
    { name: 'nested object', rows: [{ a: { v: 1 }, b: 2, c: 3 }], code: 'FEATURE_MISTYPED', text: 'got an object' },
    { name: 'row that is a string', rows: ['1,2,3'], code: 'BODY_INVALID', text: 'instances[0] must be an object of feature values or an array of them in signature order' },
    { name: 'array row of the wrong length', rows: [[1, 2]], code: 'FEATURE_COUNT_MISMATCH', text: 'instances[0] has 2 values; a row sent as an array has one for each of the 3 features, in this order: a, b, c' },
    { name: 'array row with a fraction for an integer', rows: [[1, 2.5, 3]], code: 'FEATURE_MISTYPED', text: 'instances[0].b must be an integer, got 2.5' },
    { name: 'bad id', rows: [{ id: '', a: 1, b: 2, c: 3 }], code: 'BODY_INVALID', text: 'instances[0].id' },
  ])('rejects a $name with $code naming the field', ({ rows, code, text }) => {
    const err = codeOf(() => encodeInstances(rows, sig, 10))
    expect(err.code).toBe(code)
    expect(err.status).toBe(400)
    expect(err.message).toContain(text)
  })

  it('names the expected signature in the error', () => {
    const err = codeOf(() => encodeInstances([{ a: 1 }], sig, 10)) as unknown as { details: unknown }
    expect(err.details).toEqual({ expected: { features: [{ name: 'a', type: 'number' }, { name: 'b', type: 'integer' }, { name: 'c', type: 'number' }], outputs: ['label', 'scores'] } })
  })

  it('rejects an empty or missing instances array and too many rows', () => {
    expect(codeOf(() => encodeInstances([], sig, 10)).code).toBe('BODY_INVALID')
    expect(codeOf(() => encodeInstances(undefined, sig, 10)).code).toBe('BODY_INVALID')
    expect(codeOf(() => encodeInstances(Array(11).fill({ a: 1, b: 2, c: 3 }), sig, 10)).code).toBe('BATCH_TOO_LARGE')
  })

  it('refuses a signature that does not fit the model', () => {
    expect(() => compileSignature({ input: 'x', features: [{ name: 'a', type: 'number' }], outputs: [{ name: 'l', output: 'label' }] }, inputs, outputs)).toThrow(/not an input/)
    expect(() => compileSignature({ input: 'features', features: [{ name: 'a', type: 'number' }], outputs: [{ name: 'l', output: 'label' }] }, inputs, outputs)).toThrow(/need \[N, 1\]/)
    expect(() => compileSignature({ input: 'features', features: [{ name: 'a', type: 'number' }, { name: 'b', type: 'number' }, { name: 'c', type: 'number' }], outputs: [{ name: 'l', output: 'nope' }] }, inputs, outputs)).toThrow(/not an output/)
  })
})

describe('tensor to predictions', () => {
  it('names each output by the signature and maps class indexes to names', () => {
    const predictions = JSON.parse(encodePredictions(
      {
        label: { type: 'int64', data: new BigInt64Array([1n, 0n]), dims: [2] },
        probabilities: { type: 'float32', data: new Float32Array([0.25, 0.75, 0.5, 0.5]), dims: [2, 2] },
      },
      sig,
      ['x', 7],
    ))
    expect(predictions).toEqual([
      { id: 'x', label: 'yes', scores: { no: 0.25, yes: 0.75 } },
      { id: 7, label: 'no', scores: { no: 0.5, yes: 0.5 } },
    ])
  })
})
