/**
 * Every decoder of a protocol on one table of bodies (issue #15): a fast decoder either
 * declines a body (null) or gives exactly what the protocol's last decoder gives; the last
 * decoder takes every body and gives the expected feeds and ids, or the expected error. A
 * new decoder (binary tensors, TF Serving, gRPC) is added to its protocol and runs this table.
 */
import { describe, expect, it } from 'vitest'
import { isGatewayError } from '../errors.js'
import { ServingVersion } from '../runtime/model-pool.js'
import { compileSignature } from '../runtime/signature.js'
import type { TensorSpec } from '../runtime/tensors.js'
import { NATIVE } from './native.js'
import type { DecodedRequest, InferenceProtocol, RequestBody } from './protocol.js'
import { V2_JSON } from './v2-json.js'

const MAX_ROWS = 3
const INPUTS: TensorSpec[] = [{ name: 'x', datatype: 'FP32', ortType: 'float32', shape: [-1, 2] }]
const OUTPUTS: TensorSpec[] = [{ name: 'y', datatype: 'FP32', ortType: 'float32', shape: [-1] }]

/** A real ServingVersion, as the pool makes it once loaded: inputs, outputs and a signature of two features. */
function version(withSignature = true): ServingVersion {
  const v = new ServingVersion({ model: 'm', version: 'v1', dir: '/nowhere', onnxPath: '/nowhere/model.onnx', metadata: null, problem: null })
  v.io = { inputs: INPUTS, outputs: OUTPUTS }
  v.signature = withSignature
    ? compileSignature({ input: 'x', features: [{ name: 'a', type: 'number' }, { name: 'n', type: 'integer' }], outputs: [{ name: 'score', output: 'y' }] }, INPUTS, OUTPUTS)
    : null
  return v
}

/** A body as the pipeline holds it (http/body.ts's JsonBody, without its prototype-key check). */
function body(text: string, binary: Buffer | null = null): RequestBody {
  let parsed: { value: unknown } | null = null
  return {
    bytes: binary === null ? Buffer.from(text) : Buffer.concat([Buffer.from(text), binary]),
    binary,
    get isParsed() {
      return parsed !== null
    },
    value() {
      parsed ??= { value: JSON.parse(text) }
      return parsed.value
    },
  }
}

/** `recorded`: the body the inference log keeps when not the one sent (native rows sent as arrays). */
type Expected = { data: number[]; dims: number[]; ids: (string | number)[]; outputs?: string[] | null; recorded?: string | null } | { code: string }

interface Case {
  readonly name: string
  readonly body: string
  readonly expected: Expected
  readonly withSignature?: boolean
  /** Binary tensor data after the JSON header (V2's binary extension). */
  readonly binary?: Buffer
}

const NATIVE_CASES: Case[] = [
  { name: 'one plain row', body: '{"instances":[{"a":1.5,"n":2}]}', expected: { data: [1.5, 2], dims: [1, 2], ids: ['caller'] } },
  { name: 'rows with spaces', body: ' { "instances" : [ {"a":1,"n":2} , {"a":-3e2,"n":4} ] } ', expected: { data: [1, 2, -300, 4], dims: [2, 2], ids: ['caller:0', 'caller:1'] } },
  { name: 'features out of order', body: '{"instances":[{"n":2,"a":1.5}]}', expected: { data: [1.5, 2], dims: [1, 2], ids: ['caller'] } },
  { name: 'a row with its own id', body: '{"instances":[{"id":"r-9","a":1,"n":2}]}', expected: { data: [1, 2], dims: [1, 2], ids: ['r-9'] } },
  { name: 'a timestamp beside the rows', body: '{"instances":[{"a":1,"n":2}],"timestamp":"2026-11-20T09:30:00Z"}', expected: { data: [1, 2], dims: [1, 2], ids: ['caller'] } },
  { name: 'a missing feature', body: '{"instances":[{"a":1}]}', expected: { code: 'FEATURE_MISSING' } },
  { name: 'an extra feature', body: '{"instances":[{"a":1,"n":2,"z":0}]}', expected: { code: 'FEATURE_UNKNOWN' } },
  { name: 'a fraction for an integer feature', body: '{"instances":[{"a":1,"n":2.5}]}', expected: { code: 'FEATURE_MISTYPED' } },
  { name: 'more rows than allowed', body: `{"instances":[${Array(4).fill('{"a":1,"n":2}').join(',')}]}`, expected: { code: 'BATCH_TOO_LARGE' } },
  { name: 'no instances', body: '{"rows":[]}', expected: { code: 'BODY_INVALID' } },
  { name: 'an array body', body: '[]', expected: { code: 'BODY_INVALID' } },
  { name: 'a version without a signature', body: '{"instances":[{"a":1,"n":2}]}', expected: { code: 'VERSION_HAS_NO_SIGNATURE' }, withSignature: false },
  // issue #16: rows as arrays in signature order, recorded as named records
  { name: 'rows as arrays', body: '{"instances":[[1.5,2],[-3e2,4]]}', expected: { data: [1.5, 2, -300, 4], dims: [2, 2], ids: ['caller:0', 'caller:1'], recorded: '{"instances":[{"a":1.5,"n":2},{"a":-300,"n":4}]}' } },
  { name: 'an array row with spaces', body: ' { "instances" : [ [ 0.5 , 7 ] ] } ', expected: { data: [0.5, 7], dims: [1, 2], ids: ['caller'], recorded: '{"instances":[{"a":0.5,"n":7}]}' } },
  { name: 'a record and an array row', body: '{"instances":[{"a":1,"n":2},[3,4]]}', expected: { data: [1, 2, 3, 4], dims: [2, 2], ids: ['caller:0', 'caller:1'], recorded: '{"instances":[{"a":1,"n":2},{"a":3,"n":4}]}' } },
  { name: 'a record with its id and an array row', body: '{"instances":[{"id":"r-1","n":2,"a":1},[3,4]]}', expected: { data: [1, 2, 3, 4], dims: [2, 2], ids: ['r-1', 'caller:1'], recorded: '{"instances":[{"id":"r-1","n":2,"a":1},{"a":3,"n":4}]}' } },
  { name: 'an array row too short', body: '{"instances":[[1]]}', expected: { code: 'FEATURE_COUNT_MISMATCH' } },
  { name: 'an array row too long', body: '{"instances":[[1,2,3]]}', expected: { code: 'FEATURE_COUNT_MISMATCH' } },
  { name: 'an array row nested once more', body: '{"instances":[[[1,2]]]}', expected: { code: 'FEATURE_COUNT_MISMATCH' } },
  { name: 'a fraction for an integer feature in an array row', body: '{"instances":[[1,2.5]]}', expected: { code: 'FEATURE_MISTYPED' } },
  { name: 'a string in an array row', body: '{"instances":[["1",2]]}', expected: { code: 'FEATURE_MISTYPED' } },
  { name: 'more array rows than allowed', body: `{"instances":[${Array(4).fill('[1,2]').join(',')}]}`, expected: { code: 'BATCH_TOO_LARGE' } },
]

const V2_CASES: Case[] = [
  { name: 'a flat tensor with an id', body: '{"id":"r1","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1.5,2]}]}', expected: { data: [1.5, 2], dims: [1, 2], ids: ['r1'], outputs: null } },
  { name: 'keys in another order, no id', body: '{"inputs":[{"data":[1,2,3,4],"datatype":"FP32","shape":[2,2],"name":"x"}]}', expected: { data: [1, 2, 3, 4], dims: [2, 2], ids: ['caller'], outputs: null } },
  { name: 'nested data', body: '{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]}', expected: { data: [1, 2, 3, 4], dims: [2, 2], ids: ['caller'], outputs: null } },
  { name: 'outputs asked for', body: '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}],"outputs":[{"name":"y"}]}', expected: { data: [1, 2], dims: [1, 2], ids: ['caller'], outputs: ['y'] } },
  { name: 'data nested against the shape', body: '{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1],[2,3,4]]}]}', expected: { code: 'BODY_INVALID' } },
  { name: 'too little data', body: '{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]}', expected: { code: 'TENSOR_DATA_SIZE_MISMATCH' } },
  { name: 'a shape of 2^53-1 rows', body: '{"inputs":[{"name":"x","shape":[9007199254740991,2],"datatype":"FP32","data":[1]}]}', expected: { code: 'BATCH_TOO_LARGE' } },
  { name: 'another datatype', body: '{"inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","data":[1,2]}]}', expected: { code: 'TENSOR_DATATYPE_MISMATCH' } },
  { name: 'an unknown input', body: '{"inputs":[{"name":"q","shape":[1,2],"datatype":"FP32","data":[1,2]}]}', expected: { code: 'TENSOR_INPUT_UNKNOWN' } },
  { name: 'NaN spelt as a string', body: '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":["NaN",2]}]}', expected: { code: 'TENSOR_DATA_INVALID' } },
  { name: 'an invalid id', body: '{"id":"has space","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}', expected: { code: 'INFERENCE_ID_INVALID' } },
  { name: 'binary data', body: '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}', binary: Buffer.from(new Float32Array([1.5, -2]).buffer), expected: { data: [1.5, -2], dims: [1, 2], ids: ['caller'], outputs: null } },
  { name: 'binary data short of the shape', body: '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":4}}]}', binary: Buffer.from(new Float32Array([1.5]).buffer), expected: { code: 'TENSOR_BINARY_SIZE_MISMATCH' } },
  { name: 'binary data in FP16', body: '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP16","parameters":{"binary_data_size":4}}]}', binary: Buffer.from(new Uint16Array([0x3e00, 0xc000]).buffer), expected: { data: [1.5, -2], dims: [1, 2], ids: ['caller'], outputs: null } },
]

/** What a decoder gave, in the table's terms; a thrown catalogue error becomes its code. */
function outcome(decode: () => DecodedRequest | null): Expected | null {
  try {
    const d = decode()
    if (d === null) return null
    expect(d.feeds).toHaveLength(1)
    return { data: Array.from(d.feeds[0].data as Float32Array), dims: [...d.feeds[0].dims], ids: [...d.ids], outputs: d.outputs === null ? null : [...d.outputs], recorded: d.recordedBody?.toString() ?? null }
  } catch (err) {
    if (!isGatewayError(err)) throw err
    return { code: err.code }
  }
}

function suite(protocol: InferenceProtocol<RequestBody, unknown>, cases: readonly Case[]): void {
  const last = protocol.decoders.length - 1
  for (const [k, decoder] of protocol.decoders.entries()) {
    describe(`${decoder.name}${k === last ? ' (takes every body)' : ''}`, () => {
      it.each(cases)('$name', ({ body: text, expected, withSignature, binary }) => {
        const got = outcome(() => decoder.decode(body(text, binary), version(withSignature ?? true), { maxRows: MAX_ROWS, callerId: 'caller' }))
        const want = 'code' in expected ? expected : { outputs: null, recorded: null, ...expected }
        if (k < last && got === null) return // a fast decoder may decline any body
        expect(got).toEqual(want)
      })
    })
  }

  it('the fast decoders take the usual bodies (the table would pass if they declined everything)', () => {
    const taken = cases.filter(({ body: text, withSignature }) => protocol.decoders[0].decode(body(text), version(withSignature ?? true), { maxRows: MAX_ROWS, callerId: 'caller' }) !== null)
    expect(taken.length).toBeGreaterThanOrEqual(2)
  })
}

describe('native protocol', () => suite(NATIVE, NATIVE_CASES))
describe('V2 JSON protocol', () => suite(V2_JSON, V2_CASES))
