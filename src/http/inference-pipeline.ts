/**
 * One inference, socket to answer, for every protocol (protocols/) and every way a version is
 * chosen (router/version-choice.ts):
 *
 *   read the body ─▶ choose the version ─▶ decode ─▶ run ─▶ answer ─▶ record ─▶ mirror
 *
 * The request thread only reads, decodes, chooses, runs and answers; the record is packed and
 * the mirrors start after the answer is written. Callbacks rather than promises: this runs for
 * every request (measured: see docs/architecture.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { GatewayOptions } from '../config/options.js'
import { gatewayError, gatewayErrorWith, isGatewayError } from '../errors.js'
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { RecordContext } from '../inference-log/record-context.js'
import type { Logger } from '../log.js'
import type { ServingMetrics } from '../metrics/serving-metrics.js'
import { decodeWith } from '../protocols/protocol.js'
import type { DecodedRequest, InferenceProtocol, RequestBody } from '../protocols/protocol.js'
import type { Mirrors } from '../mirrors/mirrors.js'
import type { Chosen, Target, VersionChoice } from '../router/version-choice.js'
import type { RunOutputs } from '../runtime/tensors.js'
import type { Guard } from '../auth/guard.js'
import { readJsonBody } from './body.js'
import { callerInferenceId, callerMeta } from './caller-meta.js'
import type { CallerMeta } from './caller-meta.js'
import { sendAnswer } from './respond.js'

/** Answers a request that failed: the data plane's one way of turning an error into a response. */
export type Fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => void

/**
 * A handler answers its request itself, errors included (through `fail`), except for what it
 * throws before reading the body (a bad name, an unknown version), which the caller answers
 * the same way.
 */
export type InferenceHandler = (req: IncomingMessage, res: ServerResponse, target: Target, fail: Fail) => void

export interface PipelineParts {
  readonly choice: VersionChoice
  readonly mirrors: Mirrors
  readonly inferenceLog: InferenceLog
  readonly metrics: ServingMetrics
  readonly guard: Guard
  readonly log: Logger
}

/** The pipeline for one protocol: `pipeline(NATIVE)`, `pipeline(V2_JSON)`. */
export function createInferencePipeline({ choice, mirrors, inferenceLog, metrics, guard, log }: PipelineParts, options: GatewayOptions): (protocol: InferenceProtocol) => InferenceHandler {
  const { maxBodyBytes, maxRequestRows } = options
  /** Prediction needs a token only when configured (--predict-auth); checked before the body is read. */
  const checkCaller = options.predictRequiresToken && guard.enabled ? (req: IncomingMessage) => void guard.check(req, 'predict') : null
  const recording = inferenceLog.enabled

  return (protocol) => function handleInference(req, res, target, fail) {
    const started = performance.now()
    checkCaller?.(req)
    const direct = choice.direct(target)
    const onError = (err: unknown): void => fail(req, res, err)
    readJsonBody(req, maxBodyBytes, (body) => {
      const chosen = chooseForBody(req, body, target, direct, protocol)
      const decoded = decodeWith(protocol, body, chosen.version, { maxRows: maxRequestRows, callerId: callerInferenceId(req) })
      const meta = callerMeta(req, protocol.callerFields(body)) // checked whether or not anything is recorded: a bad value is a 400 either way
      const record = recording ? recordContext(protocol, chosen, decoded, body, meta) : null
      run(chosen, decoded, record, onError, (outputs, ms) => {
        const json = protocol.encodeAnswer(chosen.version, chosen.role, decoded, outputs)
        sendAnswer(res, json, chosen.version.version, chosen.role, chosen.revision)
        afterAnswer(chosen, started, decoded, outputs, ms, json, record)
      })
    }, onError)
  }

  /**
   * choice.choose(), except that an error found before the body was parsed (routing, a version
   * that cannot be run) is answered only once the body is known to be of the right kind: a body
   * that can never work comes first, so that a client is not told to retry (503) or fix its
   * route for it. Errors are the slow path.
   */
  function chooseForBody(req: IncomingMessage, body: RequestBody, target: Target, direct: Chosen['version'] | null, protocol: InferenceProtocol): Chosen {
    try {
      return choice.choose(req, body, target, direct)
    } catch (err) {
      protocol.checkBody(body)
      throw err
    }
  }

  /** What this request's records share (mirrors/mirrors.ts reuses it for shadows and challengers). */
  function recordContext(protocol: InferenceProtocol, chosen: Chosen, decoded: DecodedRequest, body: RequestBody, meta: CallerMeta): RecordContext {
    const decision = chosen.decision
    return {
      kind: protocol.kind, ids: decoded.ids, body: body.bytes, callerTs: meta.callerTs, attributes: meta.attributes,
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
  function run(chosen: Chosen, decoded: DecodedRequest, record: RecordContext | null, onError: (err: unknown) => void, answer: (outputs: RunOutputs, ms: number) => void): void {
    const { version } = chosen
    const runner = version.runner
    if (runner === null) throw gatewayError('VERSION_NOT_READY', version.model, version.version, version.state)
    const canary = chosen.decision?.reason === 'canary-candidate' ? chosen.route!.canary : null
    const started = performance.now()
    runner.run(decoded.feeds, decoded.rows, (err, outputs) => {
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
  function afterAnswer(chosen: Chosen, started: number, decoded: DecodedRequest, outputs: RunOutputs, ms: number, answer: string, record: RecordContext | null): void {
    const { version } = chosen
    try {
      metrics.answered(version.model, version.version, chosen.routeName ?? 'direct', chosen.role, (performance.now() - started) / 1000, ms / 1000)
      if (record !== null) inferenceLog.record(record, version.model, version.version, chosen.role, ms, answer, 200, null)
      if (chosen.route === null || chosen.decision === null || !chosen.route.hasMirrors) return
      mirrors.afterPrimary(chosen.route, { version, decision: chosen.decision, feeds: decoded.feeds, rows: decoded.rows, outputs, latencyMs: ms, record })
    } catch (err) {
      log.error('bookkeeping after an answer failed; the answer was sent', { model: version.model, version: version.version, err: String((err as Error)?.stack ?? err) })
    }
  }
}
