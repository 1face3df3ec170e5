/**
 * The gRPC transport: inference.GRPCInferenceService (inference-service.ts) on its own port
 * (--grpc-port), beside the HTTP server. Messages larger than --max-body-bytes are refused by
 * grpc-js itself with RESOURCE_EXHAUSTED, as HTTP answers 413.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js'
import type { GatewayOptions } from '../config/options.js'
import { inferenceServiceImplementation } from './inference-service.js'
import type { InferenceServiceParts } from './inference-service.js'
import { inferenceService } from './service.js'

const DRAIN_TIMEOUT_MS = 10_000 // 10 s: at the stop, calls in flight may take this long before they are cut

export class GrpcServer {
  readonly #server: Server
  readonly #host: string
  readonly #port: number
  #bound: number | null = null

  constructor(parts: InferenceServiceParts, options: GatewayOptions) {
    this.#server = new Server({ 'grpc.max_receive_message_length': options.maxBodyBytes })
    this.#server.addService(inferenceService(), inferenceServiceImplementation(parts, options))
    this.#host = options.host
    this.#port = options.grpcPort
  }

  /** The port bound, once listening; null before. */
  get port(): number | null {
    return this.#bound
  }

  listen(): Promise<number> {
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host // an IPv6 address
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(`${host}:${this.#port}`, ServerCredentials.createInsecure(), (err, port) => {
        if (err !== null) return reject(err)
        this.#bound = port
        resolve(port)
      })
    })
  }

  /** Take no new calls; let those in flight finish (cut after DRAIN_TIMEOUT_MS). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const cut = setTimeout(() => this.#server.forceShutdown(), DRAIN_TIMEOUT_MS).unref()
      this.#server.tryShutdown(() => {
        clearTimeout(cut)
        resolve()
      })
    })
  }
}
