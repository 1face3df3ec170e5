/**
 * A client of inference.GRPCInferenceService, built from the same proto with the same loader
 * options as the server (service.ts), its RPCs as promises: what the tests and the benchmark
 * call the gRPC service with.
 *
 * @example
 *   const client = new InferenceClient('127.0.0.1:8081')
 *   const { response } = await client.modelInfer({ model_name: 'iris', inputs: [...] })
 *   client.close()
 */
import { credentials, loadPackageDefinition, Metadata } from '@grpc/grpc-js'
import type { Client, ServiceError } from '@grpc/grpc-js'
import type { ModelInferResponse } from '../protocols/v2-grpc.js'
import { inferencePackage } from './service.js'

type Callback = (err: ServiceError | null, response: unknown) => void
type Rpc = (request: unknown, metadata: Metadata, callback: Callback) => { on(event: 'metadata', listener: (m: Metadata) => void): void }

/** What ModelInfer answered: the message, and the initial metadata (x-model-version, x-model-role, x-routes-revision). */
export interface InferResult {
  readonly response: ModelInferResponse
  readonly metadata: Metadata
}

/** Shapes come as text: they are 64-bit integers. */
export interface ModelMetadata {
  readonly name: string
  readonly versions: string[]
  readonly platform: string
  readonly inputs: { name: string; datatype: string; shape: string[] }[]
  readonly outputs: { name: string; datatype: string; shape: string[] }[]
}

export class InferenceClient {
  readonly #client: Client & Record<string, Rpc>

  /** `address`: host:port; `metadata` is sent with every call (e.g. { authorization: 'Bearer …' }). */
  constructor(address: string, readonly metadata: Record<string, string> = {}) {
    const inference = loadPackageDefinition(inferencePackage()).inference as unknown as Record<string, new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client>
    this.#client = new inference.GRPCInferenceService(address, credentials.createInsecure()) as Client & Record<string, Rpc>
  }

  serverLive(): Promise<{ live: boolean }> {
    return this.#call('ServerLive', {}) as Promise<{ live: boolean }>
  }

  serverReady(): Promise<{ ready: boolean }> {
    return this.#call('ServerReady', {}) as Promise<{ ready: boolean }>
  }

  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    return this.#call('ServerMetadata', {}) as Promise<{ name: string; version: string; extensions: string[] }>
  }

  modelReady(name: string, version = ''): Promise<{ ready: boolean }> {
    return this.#call('ModelReady', { name, version }) as Promise<{ ready: boolean }>
  }

  modelMetadata(name: string, version = ''): Promise<ModelMetadata> {
    return this.#call('ModelMetadata', { name, version }) as Promise<ModelMetadata>
  }

  /** `request`: a ModelInferRequest with the proto's field names; `metadata` adds to the client's. */
  async modelInfer(request: Record<string, unknown>, metadata: Record<string, string> = {}): Promise<InferResult> {
    let initial = new Metadata()
    const response = await this.#call('ModelInfer', request, metadata, (m) => (initial = m))
    return { response: response as ModelInferResponse, metadata: initial }
  }

  close(): void {
    this.#client.close()
  }

  #call(rpc: string, request: unknown, extra: Record<string, string> = {}, onMetadata?: (m: Metadata) => void): Promise<unknown> {
    const metadata = new Metadata()
    for (const [k, v] of Object.entries({ ...this.metadata, ...extra })) metadata.set(k, v)
    return new Promise((resolve, reject) => {
      const call = this.#client[rpc](request, metadata, (err, response) => (err === null ? resolve(response) : reject(err)))
      if (onMetadata !== undefined) call.on('metadata', onMetadata)
    })
  }
}
