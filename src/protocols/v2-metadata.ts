/**
 * The Open Inference Protocol's model metadata, one shape for its HTTP answer
 * (GET /v2/models/{m}[/versions/{v}]) and its gRPC one (ModelMetadata), whose fields match.
 */
import type { ServingModel, ServingVersion } from '../runtime/model-pool.js'
import { describeSpec } from './v2-tensors.js'

const PLATFORM = 'onnx_onnxv1' // the protocol's platform name for ONNX Runtime models

export function modelMetadata(model: ServingModel, version: ServingVersion) {
  return {
    name: model.name,
    versions: model.versionNames(),
    platform: PLATFORM,
    inputs: version.inputs.map(describeSpec),
    outputs: version.outputs.map(describeSpec),
  }
}
