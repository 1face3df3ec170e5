/**
 * The two inference handlers of the data plane, native JSON records and Open Inference
 * Protocol tensors, for every way a version is chosen:
 *
 *   direct   /v1/models/{m}/versions/{v}/predict, /v2/models/{m}/versions/{v}/infer
 *   label    /v1/models/{m}/labels/{label}/predict          (routes.yaml labels)
 *   routed   /predict, /v1/models/{m}/predict, /v2/models/{m}/infer  (routes.yaml)
 *
 * The request thread only parses, validates, picks a version, runs and answers; mirrors and
 * canary bookkeeping start after the answer is written.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { GatewayOptions } from '../config/options.js'
import type { Logger } from '../log.js'
import { gatewayError, gatewayErrorWith, isGatewayError } from '../errors.js'
import { newInferenceId } from '../inference-log/inference-id.js'
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { RecordContext } from '../inference-log/record-context.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool, ServingModel, ServingVersion } from '../runtime/model-pool.js'
import { decodePlainInferRequest, decodePlainInstances } from '../runtime/plain-bodies.js'
import { encodeInstances, encodePredictions } from '../runtime/signature.js'
import type { CompiledSignature, EncodedInstances } from '../runtime/signature.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'
import { decodeInferRequest, encodeInferResponse } from '../runtime/v2-infer.js'
import type { Guard } from '../auth/guard.js'
import type { ServingMetrics } from '../metrics/serving-metrics.js'
import type { Mirrors } from '../router/mirrors.js'
import { NO_FACTS, requestFacts } from '../router/request-facts.js'
import type { CompiledRoute, Decision } from '../router/route-table.js'
import type { RoutesHolder } from '../router/routes-holder.js'
import { unroutedVersion } from '../router/unrouted.js'
import type { StageOf } from '../router/unrouted.js'
import { readJsonBody } from './body.js'
import type { JsonBody } from './body.js'
import { callerInferenceId, callerMeta } from './caller-meta.js'
import type { CallerMeta } from './caller-meta.js'
import { sendAnswer } from './respond.js'

export type Target =
  | { kind: 'direct'; model: string; version: string }
  | { kind: 'label'; model: string; label: string }
  | { kind: 'routed'; model: string | null }

/** The role a version plays for this request: routed traffic is primary, a chosen version direct. */
export type AnswerRole = 'primary' | 'direct'

interface Chosen {
  readonly version: ServingVersion
  readonly role: AnswerRole
  /** The route for metrics and the log: the routes.yaml route, `label:<label>`, or null for a direct call. */
  readonly routeName: string | null
  readonly route: CompiledRoute | null
  readonly decision: Decision | null
  /** The routes.yaml revision that chose the version; null for a direct call. */
  readonly revision: number | null
}

/** Answers a request that failed: the data plane's one way of turning an error into a response. */
export type Fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => void

/**
 * Each handler answers its request itself, errors included (through `fail`), except for
 * what it throws before reading the body (a bad name, an unknown version), which the caller
 * answers the same way.
 */
export interface InferenceHandlers {
  predict(req: IncomingMessage, res: ServerResponse, target: Target, fail: Fail): void
  infer(req: IncomingMessage, res: ServerResponse, target: Target, fail: Fail): void
}

export interface HandlerParts {
  readonly pool: ModelPool
  readonly routes: RoutesHolder
  readonly mirrors: Mirrors
  readonly inferenceLog: InferenceLog
  readonly metrics: ServingMetrics
  readonly guard: Guard
  readonly log: Logger
  /** A version's lifecycle stage: routed calls never reach an Archived version. */
  readonly stageOf: StageOf
}

export function createInferenceHandlers({ pool, routes, mirrors, inferenceLog, metrics, guard, log, stageOf }: HandlerParts, options: GatewayOptions): InferenceHandlers {
  const { maxBodyBytes, maxRequestRows } = options
  /** Prediction needs a token only when configured (--predict-auth); checked before the body is read. */
  const checkCaller = options.predictRequiresToken && guard.enabled ? (req: IncomingMessage) => void guard.check(req, 'predict') : null
  const recording = inferenceLog.enabled

  /** A direct target is resolved before the body is read (404/503 without reading it); others after. */
  function resolveDirect(target: Target): ServingVersion | null {
    return target.kind === 'direct' ? pool.getReadyVersion(target.model, target.version) : null
  }

  /** The version that answers; the body is parsed here only for /predict (it names the model) or a route that reads a field. */
  function choose(req: IncomingMessage, body: JsonBody, target: Target, direct: ServingVersion | null): Chosen {
    if (direct !== null) return { version: direct, role: 'direct', routeName: null, route: null, decision: null, revision: null }
    const model = target.model === null ? modelFromBody(body.value()) : pool.getModel(target.model)
    const table = routes.current // one read: the whole request sees one revision
    const revision = table.revision.number
    const route = table.routes.get(model.name) ?? null
    if (target.kind === 'label') {
      const version = route?.labels.get(target.label)
      if (version === undefined) throw gatewayError('LABEL_NOT_FOUND', model.name, target.label, route === null ? [] : [...route.labels.keys()])
      return { version: pool.getReadyVersion(model.name, version), role: 'direct', routeName: `label:${target.label}`, route: null, decision: null, revision }
    }
    if (route === null) {
      const version = assertReady(unroutedVersion(model, stageOf))
      return { version, role: 'primary', routeName: model.name, route: null, decision: { version: version.version, reason: 'default', bucket: null }, revision }
    }
    const decision = route.decide(route.readsRequest ? requestFacts(req, body) : NO_FACTS)
    if ('pinned' in decision) {
      const pinned = model.versions.get(decision.pinned)
      if (pinned === undefined) throw gatewayError('PINNED_VERSION_NOT_FOUND', model.name, decision.pinned, model.versionNames())
      if (stageOf(model.name, pinned.version) === 'Archived') throw gatewayError('VERSION_ARCHIVED', model.name, pinned.version)
      return { version: assertReady(pinned), role: 'primary', routeName: model.name, route, decision: { version: pinned.version, reason: 'pin', bucket: null }, revision }
    }
    return { version: pool.getReadyVersion(model.name, decision.version), role: 'primary', routeName: model.name, route, decision, revision }
  }

  /**
   * An error found before the body was parsed (routing, a version without a signature) is
   * answered only once the body is known to be JSON of the right kind: a body that is not
   * comes first, as it did when every body was parsed on arrival, so that a client is not told
   * to retry (503) or fix its route for a body that can never work. Errors are the slow path.
   */
  function bodyErrorFirst(body: JsonBody, err: unknown, checkShape: ((value: unknown) => void) | null): never {
    const value = body.value()
    checkShape?.(value)
    throw err
  }

  /** choose(), with the body's own error first (bodyErrorFirst). */
  function chooseForBody(req: IncomingMessage, body: JsonBody, target: Target, direct: ServingVersion | null, checkShape: ((value: unknown) => void) | null): Chosen {
    try {
      return choose(req, body, target, direct)
    } catch (err) {
      return bodyErrorFirst(body, err, checkShape)
    }
  }

  function modelFromBody(body: unknown): ServingModel {
    const named = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined
    if (typeof named === 'string') return pool.getModel(named)
    const names = pool.modelNames()
    if (names.length === 1) return pool.getModel(names[0])
    throw gatewayError('MODEL_NOT_NAMED', names)
  }

  /**
   * The instances as the version's input tensor and their ids: from the bytes when the body is
   * the plain kind, else from the parsed body, which says what is wrong with it.
   */
  function encodePredictBody(req: IncomingMessage, body: JsonBody, signature: CompiledSignature): EncodedInstances {
    const baseId = callerInferenceId(req)
    const plain = body.isParsed ? null : decodePlainInstances(body.bytes, signature, maxRequestRows, baseId)
    if (plain !== null) return plain
    const value = body.value()
    checkPredictBody(value)
    return encodeInstances((value as { instances?: unknown }).instances, signature, maxRequestRows, baseId)
  }

  /** What this request's records share; null when the log is off (nothing is built). */
  function recordContext(kind: 'predict' | 'infer', chosen: Chosen, ids: readonly (string | number)[], body: JsonBody, meta: CallerMeta): RecordContext | null {
    if (!recording) return null
    const decision = chosen.decision
    return {
      kind, ids, body: body.bytes, callerTs: meta.callerTs, attributes: meta.attributes,
      route: chosen.routeName,
      reason: decision?.reason ?? null,
      stickyHash: decision?.keyHash ?? null,
      revision: chosen.revision,
    }
  }

  /**
   * Run on the chosen version, then `answer` writes the response; canary candidates report
   * their health as they answer, and a failed run is recorded too. Whatever fails before the
   * answer is written goes to `onError`.
   */
  function run(chosen: Chosen, feeds: readonly Feed[], rows: number, record: RecordContext | null, onError: (err: unknown) => void, answer: (outputs: RunOutputs, ms: number) => void): void {
    const { version } = chosen
    const runner = version.runner
    if (runner === null) throw gatewayError('VERSION_NOT_READY', version.model, version.version, version.state)
    const canary = chosen.decision?.reason === 'canary-candidate' ? chosen.route!.canary : null
    const started = performance.now()
    runner.run(feeds, rows, (err, outputs) => {
      const ms = performance.now() - started
      canary?.observeCandidate(outputs === null, ms)
      if (outputs === null) {
        const failure = isGatewayError(err) ? err : gatewayErrorWith('INFERENCE_FAILED', { cause: err }, version.model, version.version)
        metrics.failed(version.model, version.version, chosen.routeName ?? 'direct', chosen.role, failure.code)
        if (record !== null) inferenceLog.record(record, version.model, version.version, chosen.role, ms, null, failure.status, failure.code)
        onError(failure)
        return
      }
      try {
        answer(outputs, ms)
      } catch (e) {
        onError(e)
      }
    })
  }

  /**
   * After the answer is written: its metrics and record, then shadows, challengers and canary
   * checks. A failure here is logged; the client already has its answer.
   */
  function afterAnswer(chosen: Chosen, started: number, feeds: readonly Feed[], rows: number, outputs: RunOutputs, ms: number, answer: string, record: RecordContext | null): void {
    const { version } = chosen
    try {
      metrics.answered(version.model, version.version, chosen.routeName ?? 'direct', chosen.role, (performance.now() - started) / 1000, ms / 1000)
      if (record !== null) inferenceLog.record(record, version.model, version.version, chosen.role, ms, answer, 200, null)
      if (chosen.route === null || chosen.decision === null || !chosen.route.hasMirrors) return
      mirrors.afterPrimary(chosen.route, { version, decision: chosen.decision, feeds, rows, outputs, latencyMs: ms, record })
    } catch (err) {
      log.error('bookkeeping after an answer failed; the answer was sent', { model: version.model, version: version.version, err: String((err as Error)?.stack ?? err) })
    }
  }

  return {
    predict(req, res, target, fail) {
      const started = performance.now()
      checkCaller?.(req)
      const direct = resolveDirect(target)
      const onError = (err: unknown): void => fail(req, res, err)
      readJsonBody(req, maxBodyBytes, (body) => {
        const chosen = chooseForBody(req, body, target, direct, checkPredictBody)
        const { version, role } = chosen
        const signature = version.signature
        if (signature === null) bodyErrorFirst(body, gatewayError('VERSION_HAS_NO_SIGNATURE', version.model, version.version), checkPredictBody)
        const { feed, rows, ids } = encodePredictBody(req, body, signature)
        // a body read as plain has no timestamp or attributes; one parsed may (checked as an object above)
        const meta = callerMeta(req, body.isParsed ? body.value() as Record<string, unknown> : null)
        const feeds = [feed]
        const record = recordContext('predict', chosen, ids, body, meta)
        run(chosen, feeds, rows, record, onError, (outputs, ms) => {
          const json = `{"model":${version.modelJson},"version":${version.versionJson},"role":"${role}","predictions":${encodePredictions(outputs, signature, ids)}}`
          sendAnswer(res, json, version.version, role, chosen.revision)
          afterAnswer(chosen, started, feeds, rows, outputs, ms, json, record)
        })
      }, onError)
    },

    infer(req, res, target, fail) {
      const started = performance.now()
      checkCaller?.(req)
      const direct = resolveDirect(target)
      const onError = (err: unknown): void => fail(req, res, err)
      readJsonBody(req, maxBodyBytes, (body) => {
        const chosen = chooseForBody(req, body, target, direct, null)
        const { version, role } = chosen
        const decoded = (body.isParsed ? null : decodePlainInferRequest(body.bytes, version.inputs, maxRequestRows))
          ?? decodeInferRequest(body.value(), version.inputs, version.outputs, maxRequestRows)
        const meta = callerMeta(req, null)
        const id = decoded.id ?? callerInferenceId(req) ?? newInferenceId() // the protocol's request id is the inference id
        const record = recordContext('infer', chosen, [id], body, meta)
        run(chosen, decoded.feeds, decoded.rows, record, onError, (outputs, ms) => {
          const json = encodeInferResponse(version.model, version.version, id, outputs, version.outputs, decoded.outputs)
          sendAnswer(res, json, version.version, role, chosen.revision)
          afterAnswer(chosen, started, decoded.feeds, decoded.rows, outputs, ms, json, record)
        })
      }, onError)
    },
  }
}

/** A native body is an object: `{"instances":[{...}, ...]}`. */
function checkPredictBody(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw gatewayError('BODY_INVALID', 'the body must be an object: {"instances":[{...}, ...]}')
  }
}
