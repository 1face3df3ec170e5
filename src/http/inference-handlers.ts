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
import { gatewayError, gatewayErrorWith } from '../errors.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool, ServingModel, ServingVersion } from '../runtime/model-pool.js'
import { encodeInstances, encodePredictions } from '../runtime/signature.js'
import type { Feed, RunOutputs } from '../runtime/tensors.js'
import { decodeInferRequest, encodeInferResponse } from '../runtime/v2-infer.js'
import type { Mirrors } from '../router/mirrors.js'
import { NO_FACTS, requestFacts } from '../router/request-facts.js'
import type { CompiledRoute, Decision } from '../router/route-table.js'
import type { RoutesHolder } from '../router/routes-holder.js'
import { readJsonBody } from './body.js'
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
  readonly route: CompiledRoute | null
  readonly decision: Decision | null
  /** The routes.yaml revision that chose the version; null for a direct call. */
  readonly revision: number | null
}

export interface InferenceHandlers {
  predict(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void>
  infer(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void>
}

export function createInferenceHandlers(pool: ModelPool, routes: RoutesHolder, mirrors: Mirrors, options: GatewayOptions): InferenceHandlers {
  const { maxBodyBytes, maxRequestRows } = options

  /** A direct target is resolved before the body is read (404/503 without reading it); others after. */
  function resolveDirect(target: Target): ServingVersion | null {
    return target.kind === 'direct' ? pool.getReadyVersion(target.model, target.version) : null
  }

  function choose(req: IncomingMessage, body: unknown, target: Target, direct: ServingVersion | null): Chosen {
    if (direct !== null) return { version: direct, role: 'direct', route: null, decision: null, revision: null }
    const model = target.model === null ? modelFromBody(body) : pool.getModel(target.model)
    const table = routes.current // one read: the whole request sees one revision
    const revision = table.revision.number
    const route = table.routes.get(model.name) ?? null
    if (target.kind === 'label') {
      const version = route?.labels.get(target.label)
      if (version === undefined) throw gatewayError('LABEL_NOT_FOUND', model.name, target.label, route === null ? [] : [...route.labels.keys()])
      return { version: pool.getReadyVersion(model.name, version), role: 'direct', route: null, decision: null, revision }
    }
    if (route === null) {
      const version = model.defaultVersion()
      return { version, role: 'primary', route: null, decision: { version: version.version, reason: 'default', bucket: null }, revision }
    }
    const decision = route.decide(route.readsRequest ? requestFacts(req, body) : NO_FACTS)
    if ('pinned' in decision) {
      const pinned = model.versions.get(decision.pinned)
      if (pinned === undefined) throw gatewayError('PINNED_VERSION_NOT_FOUND', model.name, decision.pinned, model.versionNames())
      return { version: assertReady(pinned), role: 'primary', route, decision: { version: pinned.version, reason: 'pin', bucket: null }, revision }
    }
    return { version: pool.getReadyVersion(model.name, decision.version), role: 'primary', route, decision, revision }
  }

  function modelFromBody(body: unknown): ServingModel {
    const named = typeof body === 'object' && body !== null ? (body as { model?: unknown }).model : undefined
    if (typeof named === 'string') return pool.getModel(named)
    const names = pool.modelNames()
    if (names.length === 1) return pool.getModel(names[0])
    throw gatewayError('MODEL_NOT_NAMED', names)
  }

  /**
   * Run on the chosen version; canary candidates report their health as they answer.
   * Written as a promise chain rather than async/await: this runs for every request.
   */
  function run(chosen: Chosen, feeds: readonly Feed[], rows: number, answer: (outputs: RunOutputs, ms: number) => void): Promise<void> {
    const { version } = chosen
    const runner = version.runner
    if (runner === null) throw gatewayError('VERSION_NOT_READY', version.model, version.version, version.state)
    const canary = chosen.decision?.reason === 'canary-candidate' ? chosen.route!.canary : null
    const started = performance.now()
    return runner.run(feeds, rows).then(
      (outputs) => {
        const ms = performance.now() - started
        canary?.observeCandidate(false, ms)
        answer(outputs, ms)
      },
      (err: unknown) => {
        canary?.observeCandidate(true, performance.now() - started)
        throw gatewayErrorWith('INFERENCE_FAILED', { cause: err }, version.model, version.version)
      },
    )
  }

  function afterAnswer(chosen: Chosen, feeds: readonly Feed[], rows: number, outputs: RunOutputs, ms: number): void {
    if (chosen.route === null || chosen.decision === null) return
    mirrors.afterPrimary(chosen.route, { version: chosen.version, decision: chosen.decision, feeds, rows, outputs, latencyMs: ms })
  }

  return {
    predict(req, res, target) {
      const direct = resolveDirect(target)
      return readJsonBody(req, maxBodyBytes).then((body) => {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw gatewayError('BODY_INVALID', 'the body must be an object: {"instances":[{...}, ...]}')
        }
        const chosen = choose(req, body, target, direct)
        const { version, role } = chosen
        const signature = version.signature
        if (signature === null) throw gatewayError('VERSION_HAS_NO_SIGNATURE', version.model, version.version)
        const { feed, rows, ids } = encodeInstances((body as { instances?: unknown }).instances, signature, maxRequestRows)
        const feeds = [feed]
        return run(chosen, feeds, rows, (outputs, ms) => {
          const json = `{"model":${version.modelJson},"version":${version.versionJson},"role":"${role}","predictions":${encodePredictions(outputs, signature, ids)}}`
          sendAnswer(res, json, version.version, role, chosen.revision)
          afterAnswer(chosen, feeds, rows, outputs, ms)
        })
      })
    },

    infer(req, res, target) {
      const direct = resolveDirect(target)
      return readJsonBody(req, maxBodyBytes).then((body) => {
        const chosen = choose(req, body, target, direct)
        const { version, role } = chosen
        const decoded = decodeInferRequest(body, version.inputs, version.outputs, maxRequestRows)
        return run(chosen, decoded.feeds, decoded.rows, (outputs, ms) => {
          sendAnswer(res, encodeInferResponse(version.model, version.version, decoded.id, outputs, version.outputs, decoded.outputs), version.version, role, chosen.revision)
          afterAnswer(chosen, decoded.feeds, decoded.rows, outputs, ms)
        })
      })
    },
  }
}
