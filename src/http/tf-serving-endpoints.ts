/**
 * TF Serving's REST paths on the data plane (protocols/tf-serving.ts reads and writes the
 * bodies). The verb sits on the model, version or label segment after a colon:
 *
 *   POST /v1/models/{m}:predict                         routed (routes.yaml)
 *   POST /v1/models/{m}/versions/{v}:predict            one version
 *   POST /v1/models/{m}/labels/{l}:predict              a routes.yaml label
 *   POST ...:classify, ...:regress                      400 TF_METHOD_UNSUPPORTED
 *   GET  /v1/models/{m}/versions/{v}, .../labels/{l}    model status of that version
 *   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata   signature_def of it (of the newest ready version without one)
 *
 * GET /v1/models/{m} stays the catalog, which carries TF's `model_version_status` too
 * (http/catalog.ts; docs/models.md, "TF Serving clients").
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { gatewayError } from '../errors.js'
import { modelMetadata, modelVersionStatus } from '../protocols/tf-serving-metadata.js'
import { NO_FACTS } from '../router/request-facts.js'
import type { RoutingInput } from '../router/request-facts.js'
import type { VersionChoice } from '../router/version-choice.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool, ServingVersion } from '../runtime/model-pool.js'
import type { Fail, InferenceHandler } from './inference-handler.js'
import { requireMethod, segmentName } from './path-segments.js'
import { sendJson } from './respond.js'

/** Answers a split /v1/models/... path if it is TF Serving's; false when it is not. */
export type TfServingEndpoints = (req: IncomingMessage, res: ServerResponse, segments: string[], method: string, fail: Fail) => void | false

/** A label's version is looked up without a request to route: labels read nothing of it. */
const NO_ROUTING: RoutingInput = { facts: () => NO_FACTS, namedModel: () => undefined }

export function tfServingEndpoints(pool: ModelPool, choice: VersionChoice, predict: InferenceHandler): TfServingEndpoints {
  /** The version a versions/{v} or labels/{l} pair names. */
  function versionOf(model: string, kind: string, segment: string): ServingVersion {
    if (kind === 'versions') return pool.getVersion(model, segmentName('version', segment))
    return choice.choose(NO_ROUTING, { kind: 'label', model, label: segmentName('label', segment) }, null).version
  }

  return function handleTfServing(req, res, s, method, fail) {
    const n = s.length
    const last = s[n - 1]
    const verb = n === 4 || n === 6 ? splitVerb(last) : null
    const isPair = n >= 6 && (s[4] === 'versions' || s[4] === 'labels')
    if (verb !== null && (n === 4 || isPair)) {
      const model = segmentName('model', n === 4 ? verb.name : s[3])
      // before the method: no method makes ':classify' an endpoint here
      if (verb.verb !== 'predict') throw gatewayError('TF_METHOD_UNSUPPORTED', verb.verb, model)
      requireMethod(method, 'POST', s)
      if (n === 4) return predict(req, res, { kind: 'routed', model }, fail)
      return s[4] === 'versions'
        ? predict(req, res, { kind: 'direct', model, version: segmentName('version', verb.name) }, fail)
        : predict(req, res, { kind: 'label', model, label: segmentName('label', verb.name) }, fail)
    }
    if (n === 6 && isPair) {
      requireMethod(method, 'GET', s)
      return sendJson(res, 200, { model_version_status: modelVersionStatus([versionOf(segmentName('model', s[3]), s[4], s[5])]) })
    }
    if ((n === 5 || (n === 7 && isPair)) && last === 'metadata') {
      requireMethod(method, 'GET', s)
      const model = segmentName('model', s[3])
      const version = n === 5 ? pool.getModel(model).newestReadyVersion() : assertReady(versionOf(model, s[4], s[5]))
      return sendJson(res, 200, modelMetadata(version))
    }
    return false
  }
}

/** `iris:predict` as its name and verb (a colon a client escaped as %3A too); null when the segment has no verb. */
function splitVerb(segment: string): { name: string; verb: string } | null {
  let at = segment.indexOf(':')
  let length = 1
  if (at === -1) {
    at = segment.search(/%3a/i)
    length = 3
  }
  return at === -1 ? null : { name: segment.slice(0, at), verb: segment.slice(at + length) }
}
