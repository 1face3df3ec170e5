/**
 * The fast decoders against the general path: for any body, either null or exactly what
 * JSON.parse + encodeInstances / decodeInferRequest make of it. Bodies are written token by
 * token with random whitespace, number spellings, key orders and one of many flaws.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodePlainInferRequest, decodePlainInstances } from './plain-bodies.js'
import { compileSignature } from '../runtime/signature.js'
import { encodeInstances } from './records.js'
import type { Feed, TensorSpec } from '../runtime/tensors.js'
import { decodeInferRequest } from './v2-tensors.js'

const MAX_ROWS = 4

const sig = compileSignature(
  { input: 'x', features: [{ name: 'a', type: 'number' }, { name: 'b_2', type: 'integer' }, { name: 'c.d', type: 'number' }], outputs: [] },
  [{ name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, 3] }],
  [],
)

/** Whitespace JSON allows between tokens, often none. */
const ws = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, fc.constantFrom(' ', '\n', '\t ', '\r\n  '))

/** A number in one of JSON's spellings (and now and then one JSON does not have), or another kind of value. */
const value = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -1e6, max: 1e6 }).map(String) },
  { weight: 6, arbitrary: fc.double({ min: -1e9, max: 1e9, noNaN: true }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.constantFrom('1e400', '-0', '0.0', '1E2', '2.50e-3', '12345678901234567890', '1.5', '-0.000001') },
  { weight: 1, arbitrary: fc.constantFrom('"1"', 'null', 'true', '[1]', '{"v":1}', '01', '.5', '+1', 'NaN', '1.') },
)

function object(pairs: readonly (readonly [string, string])[], w: () => string): string {
  return `{${w()}${pairs.map(([k, v]) => `${k}${w()}:${w()}${v}`).join(`${w()},${w()}`)}${w()}}`
}

/** A native row: the signature's keys, sometimes reordered, one missing or one more, an id, an escaped key; or an array of the values, sometimes one short or one long. */
const integer = fc.oneof({ weight: 9, arbitrary: fc.integer({ min: -1e6, max: 1e6 }).map(String) }, { weight: 1, arbitrary: value })
/** `usual` two times in three, else one of `others`. */
const rarely = <T>(usual: T, ...others: T[]) => fc.oneof({ weight: 2, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: fc.constantFrom(...others) })

const row = fc.record({
  values: fc.tuple(value, integer, value),
  flaw: rarely('none', 'reorder', 'missing', 'extra', 'id', 'escaped', 'duplicate', 'array', 'array', 'array-short', 'array-long'),
}).map(({ values, flaw }): [string, string][] | string[] => {
  if (flaw === 'array') return [...values]
  if (flaw === 'array-short') return values.slice(0, 2)
  if (flaw === 'array-long') return [...values, '1']
  let pairs: [string, string][] = [['"a"', values[0]], ['"b_2"', values[1]], ['"c.d"', values[2]]]
  if (flaw === 'reorder') pairs = [pairs[1], pairs[0], pairs[2]]
  if (flaw === 'missing') pairs = pairs.slice(0, 2)
  if (flaw === 'extra') pairs.push(['"e"', '1'])
  if (flaw === 'id') pairs.unshift(['"id"', '"case-1"'])
  if (flaw === 'escaped') pairs[0] = ['"\\u0061"', values[0]]
  if (flaw === 'duplicate') pairs.push(['"a"', '2'])
  return pairs
})

const nativeBody = fc.record({
  rows: fc.array(row, { minLength: 0, maxLength: MAX_ROWS + 1 }),
  top: rarely('none', 'model', 'timestamp', 'trailing', 'not-object', 'other-key'),
  seed: fc.array(ws, { minLength: 64, maxLength: 64 }),
}).map(({ rows, top, seed }) => {
  let n = 0
  const w = (): string => seed[n++ % seed.length]
  const rowText = (r: [string, string][] | string[]) => typeof r[0] === 'string' ? `[${w()}${(r as string[]).join(`${w()},${w()}`)}${w()}]` : object(r as [string, string][], w)
  const instances = `[${w()}${rows.map(rowText).join(`${w()},${w()}`)}${w()}]`
  const pairs: [string, string][] = [[top === 'other-key' ? '"instance"' : '"instances"', instances]]
  if (top === 'model') pairs.push(['"model"', '"m"'])
  if (top === 'timestamp') pairs.unshift(['"timestamp"', '1700000000000'])
  const text = top === 'not-object' ? instances : object(pairs, w) + (top === 'trailing' ? ' x' : w())
  return text
})

/** What `general` makes of the body's text, or the error code it answers with. */
function generalOrCode(general: () => unknown): unknown {
  try {
    return general()
  } catch (err) {
    return (err as { code?: string }).code ?? 'BODY_MALFORMED_JSON'
  }
}

/** Tensors as plain values, typed array class included, for toEqual. */
function plainFeeds(feeds: readonly Feed[]): unknown {
  return feeds.map((f) => ({ name: f.name, type: f.type, dims: f.dims, kind: f.data.constructor.name, data: Array.from(f.data as ArrayLike<unknown>) }))
}

/**
 * For every body: `fast` gives null or what `general` gives for the same text (both as
 * `view` shows them); and more than 200 of 5,000 take the fast path, the bodies it is for.
 */
function expectAgreement<T>(bodies: fc.Arbitrary<string>, fast: (bytes: Buffer) => T | null, general: (text: string) => T, view: (result: T) => unknown): void {
  let taken = 0
  fc.assert(fc.property(bodies, (text) => {
    const result = fast(Buffer.from(text))
    if (result === null) return
    taken++
    expect(view(result)).toEqual(generalOrCode(() => view(general(text))))
  }), { numRuns: 5_000 })
  expect(taken).toBeGreaterThan(200)
}

const BASE_ID = 'req-7' // rows without ids take it, so that ids compare too

describe('decodePlainInstances', () => {
  it('gives what JSON.parse + encodeInstances give, or null (then the general path answers)', () => {
    expectAgreement(nativeBody,
      (bytes) => decodePlainInstances(bytes, sig, MAX_ROWS, BASE_ID),
      (text) => encodeInstances((JSON.parse(text) as { instances?: unknown }).instances, sig, MAX_ROWS, BASE_ID),
      ({ feeds, rows, ids, recordedBody }) => ({ feeds: plainFeeds(feeds), rows, ids, recorded: recordedBody?.toString() }))
  })

  it('takes the body a client usually sends, and hands each request its own rows', () => {
    const one = decodePlainInstances(Buffer.from(JSON.stringify({ instances: [{ a: 1.5, b_2: 2, 'c.d': -3 }] })), sig, MAX_ROWS, null)
    const two = decodePlainInstances(Buffer.from('{ "instances": [ {"a": 1, "b_2": 2, "c.d": 3}, {"a": 4, "b_2": 5, "c.d": 6e0} ] }'), sig, MAX_ROWS, null)
    expect(one).not.toBeNull()
    expect(two).not.toBeNull()
    expect(Array.from(one!.feeds[0].data as Float32Array)).toEqual([1.5, 2, -3])
    expect(Array.from(two!.feeds[0].data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6])
    expect(two!.rows).toBe(2)
    const arrays = decodePlainInstances(Buffer.from('{"instances":[[1.5,2,-3],[4,5,6e0]]}'), sig, MAX_ROWS, null)
    expect(Array.from(arrays!.feeds[0].data as Float32Array)).toEqual([1.5, 2, -3, 4, 5, 6])
    expect(arrays!.recordedBody?.toString()).toBe('{"instances":[{"a":1.5,"b_2":2,"c.d":-3},{"a":4,"b_2":5,"c.d":6}]}')
  })

  it('reads rows wider than its buffer, the first time too (a signature of 5,000 features)', () => {
    const names = Array.from({ length: 5_000 }, (_, k) => `f${k}`)
    const wide = compileSignature(
      { input: 'x', features: names.map((name) => ({ name, type: 'number' as const })), outputs: [] },
      [{ name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, names.length] }], [],
    )
    const body = JSON.stringify({ instances: [Object.fromEntries(names.map((n, k) => [n, k + 1]))] })
    const fast = decodePlainInstances(Buffer.from(body), wide, MAX_ROWS, null)
    expect(Array.from(fast!.feeds[0].data as Float32Array)).toEqual(names.map((_, k) => k + 1))
  })

  it('is never taken when a feature name would need escaping in JSON', () => {
    const quoted = compileSignature(
      { input: 'x', features: [{ name: 'a"b', type: 'number' }], outputs: [] },
      [{ name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, 1] }], [],
    )
    expect(quoted.hasPlainFeatureNames).toBe(false)
    expect(decodePlainInstances(Buffer.from('{"instances":[{"a\\"b":1}]}'), quoted, 4, null)).toBeNull()
  })
})

const specs: TensorSpec[] = [
  { name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, 2] },
  { name: 'n', datatype: 'INT8', ortType: 'int8', shape: [-1] },
]

const datatypeOf = fc.constantFrom('FP32', 'FP32', 'FP64', 'INT8', 'INT32', 'INT64', 'BOOL', 'fp32', 'BYTES')
const elements = fc.array(fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: -200, max: 200 }).map(String) },
  { weight: 3, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('1e400', 'true', '"s"', '[1,2]', 'null', '-0') },
), { minLength: 0, maxLength: 8 })

const tensor = fc.record({
  name: fc.constantFrom('"x"', '"n"', '"x"', '"n"', '"y"', '"\\u0078"'),
  datatype: datatypeOf,
  shape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 }),
  data: elements,
  order: fc.constantFrom(0, 1, 2, 3),
  extra: fc.constantFrom('none', 'none', 'none', 'parameters', 'no-shape', 'duplicate-name'),
}).map(({ name, datatype, shape, data, order, extra }) => {
  const pairs: [string, string][] = [['"name"', name], ['"shape"', `[${shape.join(',')}]`], ['"datatype"', `"${datatype}"`], ['"data"', `[${data.join(',')}]`]]
  for (let k = 0; k < order; k++) pairs.push(pairs.shift()!)
  if (extra === 'parameters') pairs.push(['"parameters"', '{}'])
  if (extra === 'no-shape') pairs.splice(pairs.findIndex(([k]) => k === '"shape"'), 1)
  if (extra === 'duplicate-name') pairs.push(['"name"', name])
  return pairs
})

/** Bodies near the plain one: two inputs fitting `specs` (x as [rows, 2], n as [rows]), now and then with one flaw. */
const fitting = fc.record({
  rows: fc.integer({ min: 0, max: MAX_ROWS + 1 }),
  seed: fc.integer(),
  flaw: rarely('none', 'long', 'long-fp64', 'out-of-range', 'fraction', 'huge', 'count', 'datatype', 'missing', 'twice', 'third', 'unknown', 'shape', 'rank'),
}).map(({ rows, seed, flaw }) => {
  const x: (number | string)[] = Array.from({ length: rows * 2 }, (_, k) => ((seed >>> k) % 7) * 0.25 - 0.5)
  const n: (number | string)[] = Array.from({ length: rows }, (_, k) => ((seed >>> k) % 256) - 128)
  if (flaw === 'out-of-range' && rows > 0) n[0] = 128
  if (flaw === 'fraction' && rows > 0) n[0] = 1.5
  if (flaw === 'huge' && rows > 0) x[0] = '1e400'
  // a float's shortest text, 16 or 17 digits: read approximately, which FP32 takes and FP64 leaves to the general path
  if (flaw === 'long' || flaw === 'long-fp64') for (let k = 0; k < x.length; k++) x[k] = JSON.stringify(Math.sin(seed + k) * 10 ** ((seed + k) % 9 - 4))
  if (flaw === 'count') x.push(1)
  const inputs: [string, string][][] = [
    [['"name"', '"x"'], ['"shape"', flaw === 'rank' ? `[${rows * 2}]` : `[${rows},2]`], ['"datatype"', flaw === 'datatype' || flaw === 'long-fp64' ? '"FP64"' : '"FP32"'], ['"data"', `[${x.join(',')}]`]],
    [['"datatype"', '"INT8"'], ['"data"', `[${n.join(',')}]`], ['"name"', '"n"'], ['"shape"', flaw === 'shape' ? `[${rows},1]` : `[${rows}]`]],
  ]
  if (flaw === 'missing') inputs.pop()
  if (flaw === 'twice') inputs[1] = inputs[0]
  if (flaw === 'third') inputs.push(inputs[0])
  if (flaw === 'unknown') inputs.push([['"name"', '"y"'], ['"shape"', '[0]'], ['"datatype"', '"FP32"'], ['"data"', '[]']])
  return inputs
})

const v2Body = fc.record({
  inputs: fc.oneof(fitting, fc.array(tensor, { minLength: 0, maxLength: 3 })),
  id: fc.constantFrom(null, null, '"req-1"', '""', '"with space"', '7', '"a\\u0062"'),
  top: fc.constantFrom('none', 'none', 'none', 'outputs', 'parameters', 'id-last', 'trailing'),
  seed: fc.array(ws, { minLength: 64, maxLength: 64 }),
}).map(({ inputs, id, top, seed }) => {
  let n = 0
  const w = (): string => seed[n++ % seed.length]
  const pairs: [string, string][] = [['"inputs"', `[${inputs.map((t) => object(t, w)).join(',')}]`]]
  if (id !== null) pairs[top === 'id-last' ? 'push' : 'unshift'](['"id"', id])
  if (top === 'outputs') pairs.push(['"outputs"', '[{"name":"y"}]'])
  if (top === 'parameters') pairs.push(['"parameters"', '{"p":1}'])
  return object(pairs, w) + (top === 'trailing' ? ',' : '')
})

describe('decodePlainInferRequest', () => {
  it('gives what JSON.parse + decodeInferRequest give, or null (then the general path answers)', () => {
    expectAgreement(v2Body,
      (bytes) => decodePlainInferRequest(bytes, specs, MAX_ROWS),
      (text) => decodeInferRequest(JSON.parse(text), specs, [], MAX_ROWS),
      (d) => ({ id: d.id, rows: d.rows, outputs: d.outputs, feeds: plainFeeds(d.feeds) }))
  })

  it('takes FP32 data of 16 and 17 digits (numpy tolist(), a Float32Array\'s values) as the general path reads it; not FP64 data', () => {
    const width = 100_000
    const x: TensorSpec[] = [{ name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, width] }]
    const bodies = [
      Array.from(Float32Array.from({ length: width }, (_, i) => Math.sin(i) * 0.5 + 0.5)), // an image's pixels
      Array.from({ length: width }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 31) - 15)), // doubles of many sizes
    ].map((data) => JSON.stringify({ inputs: [{ name: 'x', shape: [1, width], datatype: 'FP32', data }] }))
    for (const text of bodies) {
      const fast = decodePlainInferRequest(Buffer.from(text), x, MAX_ROWS)
      expect(fast).not.toBeNull()
      const general = decodeInferRequest(JSON.parse(text), x, [], MAX_ROWS)
      expect(Buffer.from((fast!.feeds[0].data as Float32Array).buffer, (fast!.feeds[0].data as Float32Array).byteOffset, 4 * width))
        .toEqual(Buffer.from((general.feeds[0].data as Float32Array).buffer, (general.feeds[0].data as Float32Array).byteOffset, 4 * width))
    }
    const f64: TensorSpec[] = [{ name: 'x', datatype: 'FP64', ortType: 'float64', shape: [-1, width] }]
    expect(decodePlainInferRequest(Buffer.from(bodies[1].replace('"FP32"', '"FP64"')), f64, MAX_ROWS)).toBeNull()
  })

  it('takes the body a client usually sends, with its id', () => {
    const one: TensorSpec[] = [{ name: 'features', datatype: 'FP32', ortType: 'float32', shape: [-1, 3] }]
    const text = JSON.stringify({ id: 'r-9', inputs: [{ name: 'features', shape: [1, 3], datatype: 'FP32', data: [0.5, 2, -1e-3] }] })
    const fast = decodePlainInferRequest(Buffer.from(text), one, MAX_ROWS)
    expect(fast?.id).toBe('r-9')
    expect(fast?.rows).toBe(1)
    expect(Array.from(fast!.feeds[0].data as Float32Array)).toEqual([0.5, 2, Math.fround(-1e-3)])
  })
})
