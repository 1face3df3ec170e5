/**
 * Inference over HTTP: the transport's part of an inference (pipeline/inference.ts does the
 * rest). Checks the caller when prediction needs a token, finds a direct version before the
 * body is read (an unknown one is a 404 without reading it), reads the body, and writes the
 * answer with the version and role that made it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Guard } from '../auth/guard.js'
import type { GatewayOptions } from '../config/options.js'
import { callerInferenceId, callerMeta } from '../pipeline/caller-meta.js'
import type { HeaderOf } from '../pipeline/caller-meta.js'
import type { ServeInference } from '../pipeline/inference.js'
import type { InferenceProtocol, RequestBody } from '../protocols/protocol.js'
import type { BinaryInferResponse } from '../protocols/v2-tensors.js'
import { requestFacts } from '../router/request-facts.js'
import type { RequestFacts, RoutingInput } from '../router/request-facts.js'
import type { Target, VersionChoice } from '../router/version-choice.js'
import { readJsonBody } from './body.js'
import { sendAnswer, sendBinaryAnswer } from './respond.js'

/** Answers a request that failed: the data plane's one way of turning an error into a response. */
export type Fail = (req: IncomingMessage, res: ServerResponse, err: unknown) => void

/**
 * A handler answers its request itself, errors included (through `fail`), except for what it
 * throws before reading the body (a bad name, an unknown version), which the caller answers
 * the same way.
 */
export type InferenceHandler = (req: IncomingMessage, res: ServerResponse, target: Target, fail: Fail) => void

/** Routing's view of an HTTP request: its headers and cookies, its body's fields, parsed only if read. */
class HttpRouting implements RoutingInput {
  readonly #req: IncomingMessage
  readonly #body: RequestBody

  constructor(req: IncomingMessage, body: RequestBody) {
    this.#req = req
    this.#body = body
  }

  facts(): RequestFacts {
    return requestFacts(this.#req, this.#body)
  }

  namedModel(): unknown {
    const value = this.#body.value()
    return typeof value === 'object' && value !== null ? (value as { model?: unknown }).model : undefined
  }
}

/** What an HTTP inference answers: JSON text, or a JSON header and binary tensor data after it. */
export type HttpAnswer = string | BinaryInferResponse

/** How a protocol's endpoints read bodies over HTTP. */
export interface HttpBodyRules {
  /** Every body is JSON whatever its Content-Type says (TF Serving); otherwise the type must say JSON. */
  readonly isJsonWhateverItsType: boolean
}

const JSON_BY_TYPE: HttpBodyRules = { isJsonWhateverItsType: false }

/** Makes a protocol's handler over HTTP. */
export type HandlerMaker = (protocol: InferenceProtocol<RequestBody, HttpAnswer>, rules?: HttpBodyRules) => InferenceHandler

export function httpInferenceHandlers(serve: ServeInference, choice: VersionChoice, guard: Guard, options: GatewayOptions): HandlerMaker {
  const { maxBodyBytes } = options
  /** Prediction needs a token only when configured (--predict-auth); checked before the body is read. */
  const checkCaller = options.predictRequiresToken && guard.enabled ? (req: IncomingMessage) => void guard.check(req, 'predict') : null

  return (protocol, rules = JSON_BY_TYPE) => function handleInference(req, res, target, fail) {
    const started = performance.now()
    checkCaller?.(req)
    const direct = choice.direct(target)
    const onError = (err: unknown): void => fail(req, res, err)
    const header: HeaderOf = (name) => req.headers[name]
    readJsonBody(req, maxBodyBytes, protocol.takesBinaryData, (body) => {
      serve(protocol, {
        target, direct, body, started,
        routing: new HttpRouting(req, body),
        callerId: callerInferenceId(header),
        callerMeta: (fields) => callerMeta(header, fields),
        recordBytes: body.bytes,
      }, (answer, chosen) => {
        if (typeof answer === 'string') sendAnswer(res, answer, chosen.version.version, chosen.role, chosen.revision)
        else sendBinaryAnswer(res, answer.header, answer.blobs, chosen.version.version, chosen.role, chosen.revision)
      }, onError)
    }, onError, rules.isJsonWhateverItsType)
  }
}
