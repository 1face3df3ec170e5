/**
 * The bodies nearly every client sends, read straight from their bytes into the typed array
 * onnxruntime takes, without decoding the text and JSON.parse building objects first (that
 * and the walk over its result took about a tenth of the request thread's time a request):
 *
 *   native  {"instances":[{"limit_bal":20000,"age":24,...}, ...]}   features in signature order
 *           {"instances":[[20000,24,...], ...]}                     or arrays of them, in that order
 *   V2      {"id":"…","inputs":[{"name":"features","shape":[1,22],"datatype":"FP32","data":[…]}]}
 *
 * Each decoder gives exactly what the general path (encodeInstances, decodeInferRequest) gives
 * for the same body, or null for anything else: other fields, another key order, escapes,
 * nested data, non-ASCII strings, a value the general path refuses. Null costs one scan; the
 * general path then parses the text and answers with its errors. plain-bodies.test.ts
 * compares the two.
 */
import { isValidInferenceId } from '../inference-id.js'
import { datatypeInfo } from '../runtime/datatypes.js'
import type { DatatypeInfo } from '../runtime/datatypes.js'
import { APPROXIMATION, expect, expectKey, expectKeyOf, isSpan, readNumber, readString, scanned, skipSpace } from './json-scanner.js'
import { inputSlab } from '../runtime/signature.js'
import type { CompiledSignature } from '../runtime/signature.js'
import type { Feed, TensorSpec } from '../runtime/tensors.js'
import { slabOf } from '../runtime/feed-slab.js'
import type { FeedSlab, NumericData } from '../runtime/feed-slab.js'
import { defaultRowId, namedRowText } from './records.js'
import type { DecodedRequest } from './protocol.js'
import type { DecodedInferRequest } from './v2-tensors.js'
import { MAX_RANK } from './v2-tensors.js'

const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const COMMA = 0x2c

/** The numbers of the body being decoded, as doubles, until they are copied out; grown as needed, reused by every request. */
let values = new Float64Array(1024)
/** How many of `values` the V2 body being decoded has filled. */
let valuesUsed = 0

function growValues(): void {
  const grown = new Float64Array(values.length * 2)
  grown.set(values)
  values = grown
}

/** `count` of `values` from `first`, in a view of the slab. */
function copyValues<T extends NumericData>(slab: FeedSlab<T>, first: number, count: number): T {
  const data = slab.take(count)
  for (let k = 0; k < count; k++) data[k] = values[first + k]
  return data
}

/** A native body of plain rows as encodeInstances encodes it (rows without ids, so each gets defaultRowId's); null for any other body. */
export function decodePlainInstances(b: Buffer, sig: CompiledSignature, maxRows: number, baseId: string | null): DecodedRequest | null {
  if (!sig.hasPlainFeatureNames) return null
  let i = expect(b, 0, LBRACE)
  if (i !== -1) i = expectKey(b, i, 'instances')
  if (i !== -1) i = expect(b, i, LBRACKET)
  if (i === -1) return null
  const features = sig.features
  const width = features.length
  let rows = 0
  let hasArrayRows = false
  for (;;) {
    i = skipSpace(b, i)
    const isArray = b[i] === LBRACKET // a row of values in signature order, else a record
    hasArrayRows ||= isArray
    i = expect(b, i, isArray ? LBRACKET : LBRACE)
    if (i === -1 || rows === maxRows) return null
    const base = rows * width
    while (base + width > values.length) growValues()
    for (let c = 0; c < width; c++) {
      if (c > 0) i = expect(b, i, COMMA)
      const feature = features[c]
      if (i !== -1 && !isArray) i = expectKey(b, i, feature.name)
      if (i !== -1) i = readNumber(b, i)
      if (i === -1 || !scanned.isExact) return null // the recorded rows are written from these values
      const value = scanned.number
      if (!Number.isFinite(value) || (feature.type === 'integer' && !Number.isInteger(value))) return null
      values[base + c] = value
    }
    i = expect(b, i, isArray ? RBRACKET : RBRACE)
    if (i === -1) return null
    rows++
    i = skipSpace(b, i)
    if (b[i] !== COMMA) break
    i++
  }
  i = expect(b, i, RBRACKET)
  if (i !== -1) i = expect(b, i, RBRACE)
  if (i === -1 || skipSpace(b, i) !== b.length) return null
  const ids = new Array<string>(rows)
  for (let r = 0; r < rows; r++) ids[r] = defaultRowId(baseId, rows, r)
  const feed = { name: sig.input, type: sig.ortType, data: copyValues(inputSlab(sig), 0, rows * width), dims: [rows, width] }
  return { feeds: [feed], rows, ids, outputs: null, binaryOutputs: null, recordedBody: hasArrayRows ? Buffer.from(namedRowsText(rows, sig)) : undefined }
}

/** encodeInstances's recorded body (namedInstancesText) for the rows in `values`: every plain record reads back as its values. */
function namedRowsText(rows: number, sig: CompiledSignature): string {
  const width = sig.featureNames.length
  let text = '{"instances":['
  for (let r = 0; r < rows; r++) text += (r > 0 ? ',' : '') + namedRowText(values, r * width, sig)
  return text + ']}'
}


const TOP_KEYS = ['inputs', 'id'] as const
const INPUT_KEYS = ['name', 'shape', 'datatype', 'data'] as const

/** One input as read: where its name and datatype sit in the body (compared there, never decoded), its shape, where its elements sit in `values`. */
class PlainInput {
  nameStart = -1
  nameEnd = -1
  datatypeStart = -1
  datatypeEnd = -1
  dims: number[] | null = null
  first = -1
  count = 0
  /** Some of its elements were read approximately: only an FP32 input takes them (readNumber). */
  hasApproximations = false
}

/**
 * A V2 body of named tensors with flat numeric data (FP32, FP64 and the integer types up to 32
 * bits) and at most an `id` beside them, decoded for `inputs`; null for any other body.
 */
export function decodePlainInferRequest(b: Buffer, inputs: readonly TensorSpec[], maxRows: number): DecodedInferRequest | null {
  valuesUsed = 0
  let i = expect(b, 0, LBRACE)
  let id: string | undefined
  let given: PlainInput[] | null = null
  while (i !== -1) {
    const key = expectKeyOf(b, i, TOP_KEYS)
    if (key === 0 && given === null) {
      given = []
      i = scanInputs(b, scanned.keyEnd, given)
    } else if (key === 1 && id === undefined) {
      i = readString(b, scanned.keyEnd)
      id = b.toString('latin1', scanned.start, scanned.end)
    } else return null
    if (i === -1) return null
    i = skipSpace(b, i)
    if (b[i] !== COMMA) break
    i++
  }
  if (i !== -1) i = expect(b, i, RBRACE)
  if (i === -1 || skipSpace(b, i) !== b.length || given === null || given.length !== inputs.length) return null
  if (id !== undefined && !isValidInferenceId(id)) return null
  const feeds: Feed[] = []
  let rows: number | undefined
  for (const spec of inputs) {
    const input = given.find((g) => isSpan(b, g.nameStart, g.nameEnd, spec.name))
    if (input === undefined) return null
    const feed = plainFeed(b, input, spec)
    if (feed === null) return null
    const first = feed.dims.length > 0 ? feed.dims[0] : -1
    if (first > maxRows) return null
    rows = rows === undefined || rows === first ? first : -1
    feeds.push(feed)
  }
  return { id, feeds, rows: rows ?? -1, outputs: null, binaryOutputs: null }
}

/** `[{...}, ...]` at i into `given`: the index after it, or -1 unless every input is plain. */
function scanInputs(b: Buffer, i: number, given: PlainInput[]): number {
  i = expect(b, i, LBRACKET)
  while (i !== -1) {
    i = expect(b, i, LBRACE)
    const input = new PlainInput()
    while (i !== -1) {
      const key = expectKeyOf(b, i, INPUT_KEYS)
      i = scanned.keyEnd
      if (key === 0 && input.nameStart === -1) {
        i = readString(b, i)
        input.nameStart = scanned.start
        input.nameEnd = scanned.end
      } else if (key === 1 && input.dims === null) {
        i = scanShape(b, i, input)
      } else if (key === 2 && input.datatypeStart === -1) {
        i = readString(b, i)
        input.datatypeStart = scanned.start
        input.datatypeEnd = scanned.end
      } else if (key === 3 && input.first === -1) {
        i = scanData(b, i, input)
      } else return -1
      if (i === -1) return -1
      i = skipSpace(b, i)
      if (b[i] !== COMMA) break
      i++
    }
    if (i !== -1) i = expect(b, i, RBRACE)
    if (i === -1 || input.nameStart === -1 || input.datatypeStart === -1 || input.dims === null || input.first === -1) return -1
    given.push(input)
    i = skipSpace(b, i)
    if (b[i] !== COMMA) break
    i++
  }
  if (i !== -1) i = expect(b, i, RBRACKET)
  return given.length > 0 ? i : -1
}

/** `[2, 22]` at i: non-negative safe integers, at most MAX_RANK of them, as the input's dims; the index after it, or -1. */
function scanShape(b: Buffer, i: number, input: PlainInput): number {
  i = expect(b, i, LBRACKET)
  if (i === -1) return -1
  const dims: number[] = []
  input.dims = dims
  i = skipSpace(b, i)
  if (b[i] === RBRACKET) return i + 1
  for (;;) {
    i = readNumber(b, i)
    const d = scanned.number
    if (i === -1 || !scanned.isExact || !Number.isSafeInteger(d) || d < 0 || dims.length === MAX_RANK) return -1
    dims.push(d)
    i = skipSpace(b, i)
    if (b[i] !== COMMA) break
    i++
  }
  return expect(b, i, RBRACKET)
}

/** `[1.5, 2, ...]` at i, appended to `values` as the input's elements: the index after it, or -1 unless the array is flat and numeric. */
function scanData(b: Buffer, i: number, input: PlainInput): number {
  i = expect(b, i, LBRACKET)
  if (i === -1) return -1
  input.first = valuesUsed
  i = skipSpace(b, i)
  if (b[i] === RBRACKET) return i + 1
  for (;;) {
    i = readNumber(b, i)
    if (i === -1) return -1
    const v = scanned.number
    // approximate: kept only where every value within APPROXIMATION rounds to the same float32, which the exact one then does too
    if (!scanned.isExact) {
      if (Math.fround(v * (1 - APPROXIMATION)) !== Math.fround(v * (1 + APPROXIMATION))) return -1
      input.hasApproximations = true
    }
    if (valuesUsed === values.length) growValues()
    values[valuesUsed++] = v
    input.count++
    i = skipSpace(b, i)
    if (b[i] !== COMMA) break
    i++
  }
  return expect(b, i, RBRACKET)
}

/** The input as decodeInput makes it, when it fits its spec and every element is valid; else null. */
function plainFeed(b: Buffer, input: PlainInput, spec: TensorSpec): Feed | null {
  if (spec.datatype === null || !isSpan(b, input.datatypeStart, input.datatypeEnd, spec.datatype)) return null
  if (input.hasApproximations && spec.datatype !== 'FP32') return null
  const info = datatypeInfo(spec.datatype)
  if (info === undefined || (info.kind !== 'float' && info.kind !== 'int')) return null
  const dims = input.dims!
  if (dims.length !== spec.shape.length) return null
  let expected = 1
  for (let k = 0; k < dims.length; k++) {
    if (spec.shape[k] !== -1 && spec.shape[k] !== dims[k]) return null
    expected *= dims[k]
  }
  if (input.count !== expected) return null
  const end = input.first + input.count
  for (let i = input.first; i < end; i++) if (!isValidElement(values[i], info)) return null
  const data = copyValues(slabOf(spec, info.allocate as (n: number) => NumericData), input.first, input.count)
  return { name: spec.name, type: info.ortType, data, dims }
}

function isValidElement(v: number, info: DatatypeInfo): boolean {
  return info.kind === 'float' ? Number.isFinite(v) : Number.isInteger(v) && v >= info.min && v <= info.max
}
