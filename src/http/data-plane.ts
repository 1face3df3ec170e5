/**
 * The data plane on bare node:http: prediction and Open Inference Protocol endpoints,
 * matched by splitting the path, before Express ever sees the request (ARCHITECTURE.md:
 * an Express route costs about 5x the bare server's throughput).
 *
 *   POST /v1/models/{m}/versions/{v}/predict   native JSON records
 *   POST /v2/models/{m}[/versions/{v}]/infer   typed tensors
 *   GET  /v2, /v2/health/{live,ready}, /v2/models/{m}[/versions/{v}][/ready]
 *
 * Anything else returns false and falls through to the control plane.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { GatewayOptions } from '../config/options.js'
import { gatewayError, gatewayErrorWith } from '../errors.js'
import type { Logger } from '../log.js'
import { isValidName } from '../registry/names.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool, ServingModel, ServingVersion } from '../runtime/model-pool.js'
import { encodeInstances, encodePredictions } from '../runtime/signature.js'
import { decodeInferRequest, describeSpec, encodeInferResponse } from '../runtime/v2-infer.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'
import { readJsonBody } from './body.js'
import { sendError, sendJson, sendJsonText } from './respond.js'

export interface ServerInfo {
  readonly name: string
  readonly version: string
}

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean

const PLATFORM = 'onnx_onnxv1' // the protocol's platform name for ONNX Runtime models

export function createDataPlane(pool: ModelPool, options: GatewayOptions, info: ServerInfo, log: Logger): Handler {
  const { maxBodyBytes, maxRequestRows } = options

  async function predict(req: IncomingMessage, res: ServerResponse, version: ServingVersion): Promise<void> {
    const signature = version.signature
    if (signature === null) throw gatewayError('VERSION_HAS_NO_SIGNATURE', version.model, version.version)
    const body = await readJsonBody(req, maxBodyBytes)
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw gatewayError('BODY_INVALID', 'the body must be an object: {"instances":[{...}, ...]}')
    }
    const { feed, rows, ids } = encodeInstances((body as { instances?: unknown }).instances, signature, maxRequestRows)
    const outputs = await runOn(version, [feed], rows)
    sendJsonText(res, 200, `${version.predictPrefix}${encodePredictions(outputs, signature, ids)}}`, version.version)
  }

  async function infer(req: IncomingMessage, res: ServerResponse, version: ServingVersion): Promise<void> {
    const body = await readJsonBody(req, maxBodyBytes)
    const decoded = decodeInferRequest(body, version.inputs, version.outputs, maxRequestRows)
    const outputs = await runOn(version, decoded.feeds, decoded.rows)
    const json = encodeInferResponse(version.model, version.version, decoded.id, outputs, version.outputs, decoded.outputs)
    sendJsonText(res, 200, json, version.version)
  }

  async function runOn(version: ServingVersion, feeds: readonly Feed[], rows: number): Promise<RunOutputs> {
    const runner = version.runner
    if (runner === null) throw gatewayError('VERSION_NOT_READY', version.model, version.version, version.state)
    try {
      return await runner.run(feeds, rows)
    } catch (err) {
      throw gatewayErrorWith('INFERENCE_FAILED', { cause: err }, version.model, version.version)
    }
  }

  function modelMetadata(model: ServingModel, version: ServingVersion) {
    return {
      name: model.name,
      versions: model.versionNames(),
      platform: PLATFORM,
      inputs: version.inputs.map(describeSpec),
      outputs: version.outputs.map(describeSpec),
    }
  }

  /** Route one request; throws catalogue errors, which the caller turns into answers. */
  function dispatch(req: IncomingMessage, res: ServerResponse, segments: string[]): Promise<void> | void | false {
    const method = req.method ?? 'GET'
    // /v1/models/{m}/versions/{v}/predict
    if (segments[1] === 'v1') {
      if (segments.length !== 7 || segments[2] !== 'models' || segments[4] !== 'versions' || segments[6] !== 'predict') return false
      requireMethod(method, 'POST', segments)
      return predict(req, res, pool.getReadyVersion(name('model', segments[3]), name('version', segments[5])))
    }
    const n = segments.length
    if (n === 2 || (n === 3 && segments[2] === '')) {
      requireMethod(method, 'GET', segments)
      return sendJson(res, 200, { name: info.name, version: info.version, extensions: [] })
    }
    if (segments[2] === 'health' && n === 4 && (segments[3] === 'live' || segments[3] === 'ready')) {
      requireMethod(method, 'GET', segments)
      if (segments[3] === 'live') return sendJson(res, 200, { live: true })
      return sendJson(res, pool.isLoaded ? 200 : 503, { ready: pool.isLoaded })
    }
    if (segments[2] !== 'models' || n < 4 || n > 7) return false
    const model = pool.getModel(name('model', segments[3]))
    let rest = segments.slice(4)
    let version: ServingVersion | null = null
    if (rest[0] === 'versions') {
      if (rest.length < 2) return false
      version = pool.getVersion(model.name, name('version', rest[1]))
      rest = rest.slice(2)
    }
    if (rest.length > 1) return false
    const action = rest[0] ?? ''
    if (action === 'infer') {
      requireMethod(method, 'POST', segments)
      return infer(req, res, version === null ? model.defaultVersion() : assertReady(version))
    }
    if (action === 'ready') {
      requireMethod(method, 'GET', segments)
      const ready = version === null ? model.versionNames().some((v) => model.versions.get(v)!.state === 'ready') : version.state === 'ready'
      return sendJson(res, ready ? 200 : 503, { name: model.name, ready })
    }
    if (action === '') {
      requireMethod(method, 'GET', segments)
      return sendJson(res, 200, modelMetadata(model, version === null ? model.defaultVersion() : assertReady(version)))
    }
    return false
  }

  return function handleDataPlane(req, res) {
    const url = req.url ?? '/'
    if (!url.startsWith('/v2') && !url.startsWith('/v1/models/')) return false
    const q = url.indexOf('?')
    const segments = (q === -1 ? url : url.slice(0, q)).split('/')
    if (segments[1] !== 'v1' && segments[1] !== 'v2') return false
    const context = { method: req.method, path: url }
    try {
      const outcome = dispatch(req, res, segments)
      if (outcome === false) return false
      if (outcome instanceof Promise) outcome.catch((err: unknown) => sendError(res, err, log, context))
    } catch (err) {
      sendError(res, err, log, context)
    }
    return true
  }
}

/** A path segment as a model or version name; percent-decoded, then checked (no '/', no '..'). */
function name(kind: 'model' | 'version', segment: string): string {
  let decoded: string
  try {
    decoded = decodeURIComponent(segment)
  } catch {
    throw gatewayError('NAME_INVALID', kind, segment)
  }
  if (!isValidName(decoded)) throw gatewayError('NAME_INVALID', kind, decoded.slice(0, 64))
  return decoded
}

function requireMethod(method: string, allowed: 'GET' | 'POST', segments: string[]): void {
  if (method === allowed || (allowed === 'GET' && method === 'HEAD')) return
  throw gatewayErrorWith('METHOD_NOT_ALLOWED', { details: { allow: allowed } }, method, segments.join('/'), allowed)
}
