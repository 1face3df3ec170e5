/**
 * The native protocol: named JSON records in, named predictions out, by the version's
 * signature (version.yaml).
 *
 *   POST /v1/models/{m}/versions/{v}/predict   {"instances":[{"limit_bal":20000,...}]}
 *   200  {"model":"m","version":"v","role":"direct","predictions":[{"id":"…","label":0,"probability":0.27}]}
 */
import { gatewayError } from '../errors.js'
import { decodePlainInstances } from './plain-bodies.js'
import type { InferenceProtocol, RequestBody, RequestDecoder } from './protocol.js'
import { encodeInstances, encodePredictions } from './records.js'

/** Rows in signature order, read straight from the bytes (plain-bodies.ts); nothing else. */
const plainRecords: RequestDecoder = {
  name: 'native plain',
  decode(body, version, context) {
    if (body.isParsed || version.signature === null) return null
    return decodePlainInstances(body.bytes, version.signature, context.maxRows, context.callerId)
  },
}

/** Any body, parsed; the errors of a wrong one come from here. */
const parsedRecords: RequestDecoder = {
  name: 'native parsed',
  decode(body, version, context) {
    const value = checkedBody(body)
    if (version.signature === null) throw gatewayError('VERSION_HAS_NO_SIGNATURE', version.model, version.version, version.metadata !== null)
    return encodeInstances(value.instances, version.signature, context.maxRows, context.callerId)
  },
}

/** A native body is an object: `{"instances":[{...}, ...]}`. */
function checkedBody(body: RequestBody): Record<string, unknown> {
  const value = body.value()
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw gatewayError('BODY_INVALID', 'the body must be an object: {"instances":[{...}, ...]}')
  }
  return value as Record<string, unknown>
}

export const NATIVE: InferenceProtocol = {
  takesBinaryData: false,
  recordKind: () => 'predict',
  decoders: [plainRecords, parsedRecords],
  checkBody: checkedBody,
  // a body read as plain has no timestamp or attributes; one parsed may
  callerFields: (body) => (body.isParsed ? checkedBody(body) : null),
  encodeAnswer: (version, role, decoded, outputs) =>
    `{"model":${version.modelJson},"version":${version.versionJson},"role":"${role}","predictions":${encodePredictions(outputs, version.signature!, decoded.ids)}}`,
  recordedAnswer: (answer) => answer,
}
