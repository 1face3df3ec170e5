/**
 * The Open Inference Protocol (KServe V2): JSON tensors, and Triton's binary tensor data
 * extension for large ones (inputs after the JSON header, outputs asked for as binary).
 *
 *   POST /v2/models/{m}[/versions/{v}]/infer   {"id":"r1","inputs":[{"name","shape","datatype","data"}],"outputs":[{"name"}]}
 *   200  {"model_name":"m","model_version":"v","id":"r1","outputs":[{"name","datatype","shape","data"}]}
 *
 * The request's id is the inference id: the body's, else X-Inference-Id, else a new UUIDv7;
 * the answer echoes it.
 */
import { newInferenceId } from '../inference-id.js'
import { decodePlainInferRequest } from './plain-bodies.js'
import type { DecodeContext, DecodedRequest, InferenceProtocol, RequestDecoder } from './protocol.js'
import { decodeInferRequest, encodeBinaryInferResponse, encodeInferResponse } from './v2-tensors.js'
import type { BinaryInferResponse, DecodedInferRequest } from './v2-tensors.js'

/** JSON text, or a JSON header and the binary outputs' bytes after it. */
export type V2Answer = string | BinaryInferResponse

function asDecoded(d: DecodedInferRequest, context: DecodeContext): DecodedRequest {
  return { feeds: d.feeds, rows: d.rows, ids: [d.id ?? context.callerId ?? newInferenceId()], outputs: d.outputs, binaryOutputs: d.binaryOutputs }
}

/** Flat numeric tensors read straight from the bytes (plain-bodies.ts); nothing else. */
const plainTensors: RequestDecoder = {
  name: 'v2 plain',
  decode(body, version, context) {
    if (body.isParsed || body.binary !== null) return null
    const d = decodePlainInferRequest(body.bytes, version.inputs, context.maxRows)
    return d === null ? null : asDecoded(d, context)
  },
}

/**
 * Any body, parsed, with its binary data if it has some; the errors of a wrong one come from
 * here. The gRPC protocol (v2-grpc.ts) decodes its messages with it too, in their V2 binary form.
 */
export const parsedTensors: RequestDecoder = {
  name: 'v2 parsed',
  decode(body, version, context) {
    return asDecoded(decodeInferRequest(body.value(), version.inputs, version.outputs, context.maxRows, body.binary), context)
  },
}

export const V2_JSON: InferenceProtocol<Parameters<RequestDecoder['decode']>[0], V2Answer> = {
  takesBinaryData: true,
  recordKind: (body, decoded) => (body.binary !== null || decoded.binaryOutputs !== null ? 'infer-binary' : 'infer'),
  decoders: [plainTensors, parsedTensors],
  checkBody: (body) => void body.value(),
  callerFields: () => null,
  encodeAnswer(version, _role, decoded, outputs) {
    const id = String(decoded.ids[0])
    if (decoded.binaryOutputs === null) return encodeInferResponse(version.model, version.version, id, outputs, version.outputs, decoded.outputs)
    return encodeBinaryInferResponse(version.model, version.version, id, outputs, version.outputs, decoded.outputs, decoded.binaryOutputs)
  },
  recordedAnswer: (answer) => (typeof answer === 'string' ? answer : Buffer.concat([Buffer.from(answer.header), ...answer.blobs])),
}
