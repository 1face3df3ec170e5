/**
 * The Open Inference Protocol over gRPC (proto/open_inference_grpc.proto, ModelInfer): a
 * ModelInferRequest is read as the V2 request it is equivalent to, with binary tensor data
 * (v2-json.ts decodes it, with every check and error of the JSON protocol), and the outputs
 * are answered as a ModelInferResponse.
 *
 *   raw_input_contents[i]  ─▶ input i's binary data (binary_data_size), as the bytes came
 *   contents.<type>_contents ─▶ the same bytes, built from the typed values
 *
 * Outputs travel as raw_output_contents when the request's inputs did (what Triton's and
 * KServe's clients read), else as typed contents; FP16 and BF16, which have no typed field,
 * always raw. The inference log keeps the request and the answer in their V2 binary form
 * (record kind 'infer-binary'), so that a gRPC record reads like an HTTP one.
 */
import { gatewayError } from '../errors.js'
import { datatypeInfo } from '../runtime/datatypes.js'
import type { OutputTensor, TensorSpec } from '../runtime/tensors.js'
import { lengthPrefixed } from './binary-tensors.js'
import type { InferenceProtocol, RequestBody } from './protocol.js'
import { parsedTensors } from './v2-json.js'
import { encodeBinaryInferResponse } from './v2-tensors.js'
import type { BinaryInferResponse } from './v2-tensors.js'

/** InferParameter: one of its fields is set, named by `parameter_choice` (proto-loader's `oneofs`). */
export interface InferParameter {
  readonly parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param'
  readonly bool_param?: boolean
  readonly int64_param?: string | number
  readonly string_param?: string
  readonly double_param?: number
  readonly uint64_param?: string | number
}

export interface InferTensorContents {
  bool_contents?: boolean[]
  int_contents?: number[]
  int64_contents?: (string | number)[]
  uint_contents?: number[]
  uint64_contents?: (string | number)[]
  fp32_contents?: number[]
  fp64_contents?: number[]
  bytes_contents?: Buffer[]
}

/** A ModelInferRequest as proto-loader gives it (grpc/service.ts: field names as in the proto, 64-bit integers as text). */
export interface ModelInferRequest {
  readonly model_name: string
  readonly model_version: string
  readonly id: string
  readonly parameters: Readonly<Record<string, InferParameter>>
  readonly inputs: readonly {
    readonly name: string
    readonly datatype: string
    readonly shape: readonly (string | number)[]
    readonly parameters: Readonly<Record<string, InferParameter>>
    readonly contents: InferTensorContents | null
  }[]
  readonly outputs: readonly { readonly name: string; readonly parameters: Readonly<Record<string, InferParameter>> }[]
  readonly raw_input_contents: readonly Buffer[]
}

export interface InferOutputTensor {
  readonly name: string
  readonly datatype: string
  readonly shape: readonly number[]
  readonly contents?: InferTensorContents
}

export interface ModelInferResponse {
  readonly model_name: string
  readonly model_version: string
  readonly id: string
  readonly outputs: readonly InferOutputTensor[]
  readonly raw_output_contents: readonly Buffer[]
}

/** The answer: the message sent, and its V2 binary form, which the inference log keeps. */
export interface GrpcInferAnswer {
  readonly response: ModelInferResponse
  readonly recorded: BinaryInferResponse
}

/** The typed field that carries each datatype's elements (the proto's comments on InferTensorContents). */
const CONTENTS_FIELD: Readonly<Record<string, keyof InferTensorContents>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
}

const TYPED_FIELDS: readonly (keyof InferTensorContents)[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents',
]

/**
 * A ModelInferRequest as the V2 request with binary tensor data it stands for: a JSON header
 * and every input's bytes after it, as the HTTP transport reads such a request. Throws the
 * catalogue's error for a message no V2 request could be (raw and typed contents mixed, a
 * typed field that is not the datatype's, a count of raw contents that is not the inputs').
 */
export function grpcInferBody(message: ModelInferRequest): RequestBody {
  const raw = message.raw_input_contents
  const isRaw = raw.length > 0
  if (isRaw && raw.length !== message.inputs.length) {
    throw gatewayError('BODY_INVALID', `raw_input_contents has ${raw.length} entries for ${message.inputs.length} inputs; send one for each input, in the order of 'inputs'`)
  }
  const blobs: Buffer[] = []
  const inputs = message.inputs.map((input, i) => {
    const contents = input.contents
    const given = contents === null ? [] : TYPED_FIELDS.filter((f) => (contents[f]?.length ?? 0) > 0)
    if (isRaw && given.length > 0) throw gatewayError('BODY_INVALID', `input '${input.name}' has contents while the request uses raw_input_contents; send every input one way`)
    const shape = input.shape.map(Number)
    const blob = isRaw ? raw[i] : bytesOfContents(input.name, input.datatype, shape, contents, given)
    blobs.push(blob)
    return {
      name: input.name, datatype: input.datatype, shape,
      parameters: { ...parameterValues(input.parameters), binary_data_size: blob.length },
    }
  })
  const parameters = parameterValues(message.parameters)
  // raw inputs ask for raw outputs: in the V2 binary form, binary_data_output
  if (isRaw) parameters.binary_data_output = true
  const header: Record<string, unknown> = { inputs }
  if (message.id !== '') header.id = message.id
  if (Object.keys(parameters).length > 0) header.parameters = parameters
  if (message.outputs.length > 0) {
    header.outputs = message.outputs.map((o) => {
      const p = parameterValues(o.parameters)
      return Object.keys(p).length > 0 ? { name: o.name, parameters: p } : { name: o.name }
    })
  }
  // one input's raw contents are its bytes as they came: a heavy model's image is not copied again
  return new GrpcInferBody(header, blobs.length === 1 ? blobs[0] : Buffer.concat(blobs))
}

/**
 * The request as the pipeline holds it: the header already an object, the inputs' bytes after
 * it. The V2 binary form (`bytes`), which only the log reads, is made when it is asked for: a
 * copy of a 49 KB image a call, made for nothing, was a third of what gRPC calls allocated
 * outside the heap (bench/heavy.ts's CNN), and such buffers set off V8's full collections.
 */
class GrpcInferBody implements RequestBody {
  readonly isParsed = true
  readonly #header: Record<string, unknown>
  readonly binary: Buffer
  #bytes: Buffer | null = null

  constructor(header: Record<string, unknown>, binary: Buffer) {
    this.#header = header
    this.binary = binary
  }

  get bytes(): Buffer {
    this.#bytes ??= Buffer.concat([Buffer.from(JSON.stringify(this.#header)), this.binary])
    return this.#bytes
  }

  value(): unknown {
    return this.#header
  }
}

/** An input's typed values as the binary extension's bytes, each checked against the datatype's range. */
function bytesOfContents(name: string, datatype: string, shape: readonly number[], contents: InferTensorContents | null, given: readonly string[]): Buffer {
  const isShape = shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  const expected = shape.reduce((n, d) => n * d, 1)
  if (isShape && expected === 0 && given.length === 0) return EMPTY // an empty tensor of any datatype, FP16 too
  const field = CONTENTS_FIELD[datatype]
  if (field === undefined) {
    if (datatype === 'FP16' || datatype === 'BF16') throw gatewayError('BODY_INVALID', `input '${name}' is ${datatype}, which has no typed contents; send its bytes in raw_input_contents`)
    throw gatewayError('TENSOR_DATATYPE_UNSUPPORTED', name, datatype)
  }
  const stray = given.find((f) => f !== field)
  if (stray !== undefined) throw gatewayError('BODY_INVALID', `input '${name}' is ${datatype}, whose elements go in contents.${field}, not contents.${stray}`)
  const values = (contents?.[field] ?? []) as readonly unknown[]
  if (isShape && values.length !== expected) throw gatewayError('TENSOR_DATA_SIZE_MISMATCH', name, expected, values.length)
  if (datatype === 'BYTES') return lengthPrefixed(values as readonly Buffer[])
  const info = datatypeInfo(datatype)!
  const out = info.allocate!(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (info.kind === 'int' && ((v as number) < info.min || (v as number) > info.max)) {
      throw gatewayError('TENSOR_DATA_INVALID', name, i, `an integer from ${info.min} to ${info.max} (${datatype})`)
    }
    out[i] = info.kind === 'bigint' ? BigInt(v as string) : info.kind === 'bool' ? (v === true ? 1 : 0) : v
  }
  const view = out as unknown as ArrayBufferView
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength)
}

const EMPTY = Buffer.alloc(0)

/** InferParameters as V2's JSON parameters; 64-bit integers as numbers while exact, else as text. */
function parameterValues(parameters: Readonly<Record<string, InferParameter>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, p] of Object.entries(parameters)) {
    const choice = p.parameter_choice
    if (choice === undefined) continue
    const v = p[choice]
    out[key] = typeof v === 'string' && (choice === 'int64_param' || choice === 'uint64_param') && Number.isSafeInteger(Number(v)) ? Number(v) : v
  }
  return out
}

/** An output's elements as its typed field takes them: 64-bit integers as text (exact), BYTES as bytes. */
function typedValues(tensor: OutputTensor): unknown[] {
  const data = tensor.data
  if (Array.isArray(data)) return data.map((s) => Buffer.from(String(s), 'utf8'))
  if (tensor.type === 'bool') return Array.from(data as Uint8Array, (b) => b !== 0)
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, String)
  return Array.from(data as ArrayLike<number>)
}

const asGrpcOutput = (spec: TensorSpec, tensor: OutputTensor): InferOutputTensor => ({ name: spec.name, datatype: spec.datatype ?? 'BYTES', shape: tensor.dims })

export const V2_GRPC: InferenceProtocol<RequestBody, GrpcInferAnswer> = {
  takesBinaryData: true,
  recordKind: () => 'infer-binary',
  decoders: [parsedTensors],
  checkBody: () => undefined, // grpcInferBody threw what a message can be wrong with before the pipeline began
  callerFields: () => null,
  encodeAnswer(version, _role, decoded, outputs) {
    const id = String(decoded.ids[0])
    const specs = decoded.outputs === null ? version.outputs : decoded.outputs.map((n) => version.outputs.find((s) => s.name === n)!)
    const recorded = encodeBinaryInferResponse(version.model, version.version, id, outputs, version.outputs, decoded.outputs, new Set(specs.map((s) => s.name)))
    const isRaw = decoded.binaryOutputs !== null || specs.some((s) => CONTENTS_FIELD[s.datatype ?? 'BYTES'] === undefined)
    const response: ModelInferResponse = isRaw
      ? { model_name: version.model, model_version: version.version, id, outputs: specs.map((s) => asGrpcOutput(s, outputs[s.name])), raw_output_contents: recorded.blobs }
      : {
          model_name: version.model, model_version: version.version, id, raw_output_contents: [],
          outputs: specs.map((s) => ({ ...asGrpcOutput(s, outputs[s.name]), contents: { [CONTENTS_FIELD[s.datatype ?? 'BYTES']]: typedValues(outputs[s.name]) } })),
        }
    return { response, recorded }
  },
  recordedAnswer: (answer) => Buffer.concat([Buffer.from(answer.recorded.header), ...answer.recorded.blobs]),
}
