/**
 * The Open Inference Protocol (KServe V2) with JSON tensors.
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
import { decodeInferRequest, encodeInferResponse } from './v2-tensors.js'
import type { DecodedInferRequest } from './v2-tensors.js'

function asDecoded(d: DecodedInferRequest, context: DecodeContext): DecodedRequest {
  return { feeds: d.feeds, rows: d.rows, ids: [d.id ?? context.callerId ?? newInferenceId()], outputs: d.outputs }
}

/** Flat numeric tensors read straight from the bytes (plain-bodies.ts); nothing else. */
const plainTensors: RequestDecoder = {
  name: 'v2 plain',
  decode(body, version, context) {
    if (body.isParsed) return null
    const d = decodePlainInferRequest(body.bytes, version.inputs, context.maxRows)
    return d === null ? null : asDecoded(d, context)
  },
}

/** Any body, parsed; the errors of a wrong one come from here. */
const parsedTensors: RequestDecoder = {
  name: 'v2 parsed',
  decode(body, version, context) {
    return asDecoded(decodeInferRequest(body.value(), version.inputs, version.outputs, context.maxRows), context)
  },
}

export const V2_JSON: InferenceProtocol = {
  kind: 'infer',
  decoders: [plainTensors, parsedTensors],
  checkBody: (body) => void body.value(),
  callerFields: () => null,
  encodeAnswer: (version, _role, decoded, outputs) =>
    encodeInferResponse(version.model, version.version, String(decoded.ids[0]), outputs, version.outputs, decoded.outputs),
  answerText: (answer) => answer,
}
