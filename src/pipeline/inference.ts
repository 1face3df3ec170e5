/**
 * One inference, for every transport (HTTP, gRPC), every protocol (protocols/) and every way
 * a version is chosen (router/version-choice.ts), once the request is read:
 *
 *   choose the version ─▶ decode ─▶ run ─▶ answer ─▶ record ─▶ mirror
 *
 * The transport reads the request, says who the caller is, and writes what `respond` is
 * given (http/inference-handler.ts, grpc/). The record is packed and the mirrors start after
 * the answer is handed over. Callbacks rather than promises: this runs for every request.
 */
import type { GatewayOptions } from '../config/options.js'
import { gatewayError, gatewayErrorWith, isGatewayError } from '../errors.js'
import type { CallerMeta } from './caller-meta.js'
import type { InferenceLog } from '../inference-log/inference-log.js'
import type { RecordContext } from '../inference-log/record-context.js'
import type { Logger } from '../log.js'
import type { ServingMetrics } from '../metrics/serving-metrics.js'
import type { Mirrors } from '../mirrors/mirrors.js'
import { decodeWith } from '../protocols/protocol.js'
import type { DecodedRequest, InferenceProtocol } from '../protocols/protocol.js'
import type { RoutingInput } from '../router/request-facts.js'
import type { Chosen, Target, VersionChoice } from '../router/version-choice.js'
import type { ServingVersion } from '../runtime/model-pool.js'
import type { RunOutputs } from '../runtime/tensors.js'

/** A request as its transport read it. */
export interface InferenceCall<B> {
  readonly target: Target
  /** A direct target's version, found before the body was read (VersionChoice.direct); null for the others. */
  readonly direct: ServingVersion | null
  readonly body: B
  /** What routing may read of the request: headers, cookies, fields (built only if a route reads them). */
  readonly routing: RoutingInput
  /** The caller's X-Inference-Id (or gRPC metadata), checked; null when none was sent. */
  readonly callerId: string | null
  /** The caller's timestamp and attributes, read from the transport's headers and `callerFields`. */
  callerMeta(fields: Record<string, unknown> | null): CallerMeta
  /** The request's bytes as they came, which the inference log reads back for the inputs. */
  readonly recordBytes: Buffer
  /** When the transport began on it, performance.now(). */
  readonly started: number
}

/** Where the answer goes: the transport writes it, marked with the version and role that made it. */
export type Respond<A> = (answer: A, chosen: Chosen) => void

export interface InferenceParts {
  readonly choice: VersionChoice
  readonly mirrors: Mirrors
  readonly inferenceLog: InferenceLog
  readonly metrics: ServingMetrics
  readonly log: Logger
}

export type ServeInference = <B, A>(protocol: InferenceProtocol<B, A>, call: InferenceCall<B>, respond: Respond<A>, fail: (err: unknown) => void) => void

export function createInference({ choice, mirrors, inferenceLog, metrics, log }: InferenceParts, options: GatewayOptions): ServeInference {
  const { maxRequestRows } = options
  const recording = inferenceLog.enabled

  return function serveInference(protocol, call, respond, fail) {
    const chosen = chooseForBody(protocol, call)
    const decoded = decodeWith(protocol, call.body, chosen.version, { maxRows: maxRequestRows, callerId: call.callerId })
    const meta = call.callerMeta(protocol.callerFields(call.body)) // checked whether or not anything is recorded: a bad value is a 400 either way
    const record = recording ? recordContext(protocol.recordKind(call.body, decoded), chosen, decoded, decoded.recordedBody ?? call.recordBytes, meta) : null
    run(chosen, decoded, record, fail, (outputs, ms) => {
      const answer = protocol.encodeAnswer(chosen.version, chosen.role, decoded, outputs)
      respond(answer, chosen)
      afterAnswer(chosen, call.started, decoded, outputs, ms, record === null ? null : protocol.recordedAnswer(answer), record)
    })
  }

  /**
   * choice.choose(), except that an error found before the body was looked at (routing, a
   * version that cannot run) is answered only once the body is known to be of the right kind:
   * a body that can never work comes first, so that a client is not told to retry (503) or fix
   * its route for it. Errors are the slow path.
   */
  function chooseForBody<B>(protocol: InferenceProtocol<B, unknown>, call: InferenceCall<B>): Chosen {
    try {
      return choice.choose(call.routing, call.target, call.direct)
    } catch (err) {
      protocol.checkBody(call.body)
      throw err
    }
  }

  /** What this request's records share (mirrors/mirrors.ts reuses it for shadows and challengers). */
  function recordContext(kind: RecordContext['kind'], chosen: Chosen, decoded: DecodedRequest, body: Buffer, meta: CallerMeta): RecordContext {
    const decision = chosen.decision
    return {
      kind, ids: decoded.ids, body, callerTs: meta.callerTs, attributes: meta.attributes,
      route: chosen.routeName,
      reason: decision?.reason ?? null,
      stickyHash: decision?.keyHash ?? null,
      revision: chosen.revision,
    }
  }

  /**
   * Run on the chosen version, then `answer`; canary candidates report their health as they
   * answer, and a failed run is recorded too. Whatever fails before the answer is handed over
   * goes to `onError`.
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
   * After the answer is handed over: its metrics and record, then shadows, challengers and
   * canary checks. A failure here is logged; the client already has its answer.
   */
  function afterAnswer(chosen: Chosen, started: number, decoded: DecodedRequest, outputs: RunOutputs, ms: number, answer: string | Buffer | null, record: RecordContext | null): void {
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
