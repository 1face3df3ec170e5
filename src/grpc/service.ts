/**
 * The Open Inference Protocol's gRPC service, read from proto/open_inference_grpc.proto when
 * first asked for (the file ships beside dist/, as it sits beside src/). Server and clients
 * load it with the same options, so both see messages as protocols/v2-grpc.ts types them.
 */
import { loadSync } from '@grpc/proto-loader'
import type { Options, PackageDefinition } from '@grpc/proto-loader'
import type { ServiceDefinition } from '@grpc/grpc-js'
import { fileURLToPath } from 'node:url'

const PROTO_PATH = fileURLToPath(new URL('../../proto/open_inference_grpc.proto', import.meta.url))

/** Field names as the proto writes them; 64-bit integers as text (exact); absent fields as their defaults; oneofs named. */
const LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }

const SERVICE_NAME = 'inference.GRPCInferenceService'

let loaded: PackageDefinition | null = null

export function inferencePackage(): PackageDefinition {
  loaded ??= loadSync(PROTO_PATH, LOADER_OPTIONS)
  return loaded
}

export function inferenceService(): ServiceDefinition {
  return inferencePackage()[SERVICE_NAME] as ServiceDefinition
}
