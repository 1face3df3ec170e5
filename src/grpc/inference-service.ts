/**
 * The RPCs of inference.GRPCInferenceService: health and metadata answered from the model
 * pool as their HTTP twins are (http/data-plane.ts), and ModelInfer handed to the request
 * pipeline (pipeline/inference.ts) with the gRPC protocol (protocols/v2-grpc.ts).
 *
 *   ModelInfer { model_name, model_version: "" }   routed by routes.yaml
 *   ModelInfer { model_name, model_version: "v2" } that version
 *
 * Metadata plays the part of HTTP headers: `authorization` (with --predict-auth), the
 * caller's x-inference-id/-timestamp/-attributes, and whatever routes read (header:NAME,
 * cookie:NAME). The answer's version, role and routes revision come back as initial metadata
 * under the HTTP headers' names. RPCs not implemented here answer UNIMPLEMENTED (grpc-js).
 */
import { Metadata, status } from '@grpc/grpc-js'
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js'
import type { Guard } from '../auth/guard.js'
import type { GatewayOptions } from '../config/options.js'
import { gatewayError } from '../errors.js'
import type { Logger } from '../log.js'
import { callerInferenceId, callerMeta } from '../pipeline/caller-meta.js'
import type { HeaderOf } from '../pipeline/caller-meta.js'
import type { ServeInference } from '../pipeline/inference.js'
import type { RequestBody } from '../protocols/protocol.js'
import { grpcInferBody, V2_GRPC } from '../protocols/v2-grpc.js'
import type { ModelInferRequest, ModelInferResponse } from '../protocols/v2-grpc.js'
import { modelMetadata } from '../protocols/v2-metadata.js'
import { isValidName } from '../registry/names.js'
import { bodyField, parseCookies } from '../router/request-facts.js'
import type { RequestFacts, RoutingInput } from '../router/request-facts.js'
import type { Target, VersionChoice } from '../router/version-choice.js'
import { assertReady } from '../runtime/model-pool.js'
import type { ModelPool } from '../runtime/model-pool.js'
import { toGrpcFailure } from './status.js'

export interface InferenceServiceParts {
  readonly serve: ServeInference
  readonly choice: VersionChoice
  readonly guard: Guard
  readonly pool: ModelPool
  readonly info: { readonly name: string; readonly version: string }
  readonly log: Logger
  /** Told the gRPC status (its name) and catalogue code of every error answer (metrics). */
  readonly countError: (grpcStatus: string, code: string) => void
}

/** A metadata value by lower-case key, as caller-meta.ts reads headers; binary (-bin) values are not text. */
function metadataReader(metadata: Metadata): HeaderOf {
  return (name) => {
    const values = metadata.get(name)
    return values.length > 0 && typeof values[0] === 'string' ? values[0] : undefined
  }
}

/** Routing's view of a gRPC call: its metadata as headers, a `cookie` entry as cookies, the request's parameters as fields. */
class GrpcRouting implements RoutingInput, RequestFacts {
  readonly #header: HeaderOf
  readonly #body: RequestBody
  #cookies: Map<string, string> | null = null

  constructor(header: HeaderOf, body: RequestBody) {
    this.#header = header
    this.#body = body
  }

  facts(): RequestFacts {
    return this
  }

  namedModel(): unknown {
    return undefined // the message names its model in model_name, read into the target
  }

  header(name: string): string | undefined {
    return this.#header(name) as string | undefined
  }

  cookie(name: string): string | undefined {
    this.#cookies ??= parseCookies(this.header('cookie'))
    return this.#cookies.get(name)
  }

  field(name: string): string | undefined {
    return bodyField(this.#body.value(), name)
  }
}

function checkedName(kind: 'model' | 'version', name: string): string {
  if (!isValidName(name)) throw gatewayError('NAME_INVALID', kind, name.slice(0, 64))
  return name
}

type Unary<Q, R> = (call: ServerUnaryCall<Q, R>, callback: sendUnaryData<R>) => void

export function inferenceServiceImplementation(parts: InferenceServiceParts, options: GatewayOptions): UntypedServiceImplementation {
  const { serve, choice, guard, pool, info, log, countError } = parts
  const checkCaller = options.predictRequiresToken && guard.enabled
    ? (header: HeaderOf) => void guard.checkAuthorization(header('authorization') as string | undefined, 'predict')
    : null

  /** The one way an error becomes a gRPC status here: logged as over HTTP (5xx at error, 4xx at info), counted. */
  function fail<R>(rpc: string, callback: sendUnaryData<R>, err: unknown): void {
    const failure = toGrpcFailure(err)
    const message = failure.error.details!
    if (failure.status >= 500) log.error(message, { rpc, code: failure.code, err: String((err as Error)?.stack ?? err) })
    else log.info(message, { rpc, code: failure.code, status: failure.status })
    countError(status[failure.error.code!], failure.code)
    callback(failure.error)
  }

  /** A unary RPC answered at once, its errors through `fail`. */
  function answered<Q, R>(rpc: string, answer: (request: Q) => R): Unary<Q, R> {
    return (call, callback) => {
      let response: R
      try {
        response = answer(call.request)
      } catch (err) {
        fail(rpc, callback, err)
        return
      }
      callback(null, response)
    }
  }

  const ModelInfer: Unary<ModelInferRequest, ModelInferResponse> = (call, callback) => {
    const started = performance.now()
    const onError = (err: unknown): void => fail('ModelInfer', callback, err)
    try {
      const header = metadataReader(call.metadata)
      checkCaller?.(header)
      const message = call.request
      const model = checkedName('model', message.model_name)
      const target: Target = message.model_version === '' ? { kind: 'routed', model } : { kind: 'direct', model, version: checkedName('version', message.model_version) }
      const direct = choice.direct(target)
      const body = grpcInferBody(message)
      serve(V2_GRPC, {
        target, direct, body, started,
        routing: new GrpcRouting(header, body),
        callerId: callerInferenceId(header),
        callerMeta: (fields) => callerMeta(header, fields),
        get recordBytes() {
          return body.bytes // made only when the inference is recorded
        },
      }, (answer, chosen) => {
        const sent = new Metadata()
        sent.set('x-model-version', chosen.version.version)
        sent.set('x-model-role', chosen.role)
        if (chosen.revision !== null) sent.set('x-routes-revision', String(chosen.revision))
        call.sendMetadata(sent)
        callback(null, answer.response)
      }, onError)
    } catch (err) {
      onError(err)
    }
  }

  return {
    ServerLive: answered('ServerLive', () => ({ live: true })),
    ServerReady: answered('ServerReady', () => ({ ready: pool.isLoaded })),
    ServerMetadata: answered('ServerMetadata', () => ({ name: info.name, version: info.version, extensions: [] })),
    ModelReady: answered('ModelReady', (request: { name: string; version: string }) => {
      const model = pool.getModel(checkedName('model', request.name))
      if (request.version === '') return { ready: [...model.versions.values()].some((v) => v.state === 'ready') }
      return { ready: pool.getVersion(model.name, checkedName('version', request.version)).state === 'ready' }
    }),
    ModelMetadata: answered('ModelMetadata', (request: { name: string; version: string }) => {
      const model = pool.getModel(checkedName('model', request.name))
      const version = request.version === '' ? model.newestReadyVersion() : assertReady(pool.getVersion(model.name, checkedName('version', request.version)))
      return modelMetadata(model, version)
    }),
    ModelInfer,
  } as UntypedServiceImplementation
}
