/**
 * The data plane on bare node:http: prediction and Open Inference Protocol endpoints,
 * matched by splitting the path, before Express ever sees the request (ARCHITECTURE.md:
 * an Express route costs about 5x the bare server's throughput).
 *
 *   POST /predict                                   routed, the body names the model
 *   POST /v1/models/{m}/predict                     routed
 *   POST /v1/models/{m}/labels/{label}/predict      a routes.yaml label
 *   POST /v1/models/{m}/versions/{v}/predict        one version
 *   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict   TF Serving REST (http/tf-serving-endpoints.ts),
 *   GET  /v1/models/{m}/versions/{v}, .../metadata             with its status and metadata GETs
 *   POST /v2/models/{m}[/versions/{v}]/infer        typed tensors, routed or one version
 *   GET  /v2, /v2/health/{live,ready}, /v2/models/{m}[/versions/{v}][/ready]
 *
 * Anything else returns false and falls through to the control plane, /v2/repository/* on
 * purpose (http/repository-routes.ts: rare calls that need a token).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../log.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { NATIVE } from '../protocols/native.js'
import { TF_SERVING } from '../protocols/tf-serving.js'
import { V2_JSON } from '../protocols/v2-json.js'
import { modelMetadata } from '../protocols/v2-metadata.js'
import type { VersionChoice } from '../router/version-choice.js'
import type { Fail, HandlerMaker, InferenceHandler } from './inference-handler.js'
import { requireMethod, segmentName as name } from './path-segments.js'
import { tfServingEndpoints } from './tf-serving-endpoints.js'
import type { TfServingEndpoints } from './tf-serving-endpoints.js'
import { sendError, sendJson } from './respond.js'

export interface ServerInfo {
  readonly name: string
  readonly version: string
}

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean

/** The protocol's extensions served here (GET /v2), by Triton's names. */
const EXTENSIONS = ['binary_tensor_data', 'model_repository']

/** The inference handlers by protocol (http/inference-handler.ts). */
export interface DataPlaneHandlers {
  readonly predict: InferenceHandler
  readonly infer: InferenceHandler
  readonly tfServing: TfServingEndpoints
}

/** Every protocol's handler, made by `overHttp`; openapi.test.ts probes the data plane with this same set. */
export function dataPlaneHandlers(pool: ModelPool, choice: VersionChoice, overHttp: HandlerMaker): DataPlaneHandlers {
  return {
    predict: overHttp(NATIVE),
    infer: overHttp(V2_JSON),
    tfServing: tfServingEndpoints(pool, choice, overHttp(TF_SERVING, { isJsonWhateverItsType: true })),
  }
}

/** `countError` is told the status and code of every error answer (metrics). */
export function createDataPlane(pool: ModelPool, handlers: DataPlaneHandlers, info: ServerInfo, log: Logger, countError: (status: number, code: string) => void): Handler {
  const fail: Fail = (req, res, err) => {
    const { status, code } = sendError(res, err, log, { method: req.method, path: pathOf(req.url) })
    countError(status, code)
  }

  /** /v1/...: the native JSON endpoints. */
  function v1(req: IncomingMessage, res: ServerResponse, s: string[], method: string): void | false {
    if (s[2] !== 'models') return false
    if (handlers.tfServing(req, res, s, method, fail) !== false) return
    if (s[s.length - 1] !== 'predict') return false
    if (s.length === 5) {
      requireMethod(method, 'POST', s)
      return handlers.predict(req, res, { kind: 'routed', model: name('model', s[3]) }, fail)
    }
    if (s.length === 7 && (s[4] === 'versions' || s[4] === 'labels')) {
      requireMethod(method, 'POST', s)
      const model = name('model', s[3])
      return s[4] === 'versions'
        ? handlers.predict(req, res, { kind: 'direct', model, version: name('version', s[5]) }, fail)
        : handlers.predict(req, res, { kind: 'label', model, label: name('label', s[5]) }, fail)
    }
    return false
  }

  /** /v2...: the Open Inference Protocol. */
  function v2(req: IncomingMessage, res: ServerResponse, s: string[], method: string): void | false {
    const n = s.length
    if (n === 2 || (n === 3 && s[2] === '')) {
      requireMethod(method, 'GET', s)
      return sendJson(res, 200, { name: info.name, version: info.version, extensions: EXTENSIONS })
    }
    if (s[2] === 'health' && n === 4 && (s[3] === 'live' || s[3] === 'ready')) {
      requireMethod(method, 'GET', s)
      if (s[3] === 'live') return sendJson(res, 200, { live: true })
      return sendJson(res, pool.isLoaded ? 200 : 503, { ready: pool.isLoaded })
    }
    if (s[2] !== 'models' || n < 4 || n > 7) return false // /v2/repository/* included: the control plane serves it
    const modelName = name('model', s[3])
    let rest = s.slice(4)
    let versionName: string | null = null
    if (rest[0] === 'versions') {
      if (rest.length < 2) return false
      versionName = name('version', rest[1])
      rest = rest.slice(2)
    }
    if (rest.length > 1) return false
    const action = rest[0] ?? ''
    if (action === 'infer') {
      requireMethod(method, 'POST', s)
      return handlers.infer(req, res, versionName === null ? { kind: 'routed', model: modelName } : { kind: 'direct', model: modelName, version: versionName }, fail)
    }
    const model = pool.getModel(modelName)
    const version = versionName === null ? null : pool.getVersion(modelName, versionName)
    if (action === 'ready') {
      requireMethod(method, 'GET', s)
      const ready = version === null ? [...model.versions.values()].some((v) => v.state === 'ready') : version.state === 'ready'
      return sendJson(res, ready ? 200 : 503, { name: model.name, ready })
    }
    if (action === '') {
      requireMethod(method, 'GET', s)
      return sendJson(res, 200, modelMetadata(model, version === null ? model.newestReadyVersion() : assertReady(version)))
    }
    return false
  }

  return function handleDataPlane(req, res) {
    const url = req.url ?? '/'
    const isPredict = url === '/predict' || url.startsWith('/predict?')
    if (!isPredict && !url.startsWith('/v2') && !url.startsWith('/v1/models/')) return false
    const q = url.indexOf('?')
    const segments = (q === -1 ? url : url.slice(0, q)).split('/')
    const method = req.method ?? 'GET'
    try {
      if (isPredict) {
        requireMethod(method, 'POST', segments)
        handlers.predict(req, res, { kind: 'routed', model: null }, fail)
        return true
      }
      if (segments[1] === 'v1') return v1(req, res, segments, method) !== false
      if (segments[1] === 'v2') return v2(req, res, segments, method) !== false
      return false
    } catch (err) {
      fail(req, res, err)
      return true
    }
  }
}

/** The URL without its query string, for logs: a query may carry a token or other secrets. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/'
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
