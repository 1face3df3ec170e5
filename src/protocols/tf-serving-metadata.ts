/**
 * TF Serving's model status and metadata answers (GetModelStatusResponse and
 * GetModelMetadataResponse as JSON, the way its REST API writes them), for a version of ours:
 * its folder name is the version, its one signature `serving_default`.
 *
 *   {"model_version_status": [{"version": "v1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
 */
import type { ServingVersion, VersionState } from '../runtime/model-pool.js'
import type { TensorSpec } from '../runtime/tensors.js'
import { TF_SIGNATURE } from './tf-serving.js'

/** TF Serving's ModelVersionStatus.State for each of our states. */
const STATES: Readonly<Record<VersionState, string>> = {
  loading: 'LOADING',
  ready: 'AVAILABLE',
  failed: 'END', // TF Serving's state for a version that could not load, with the error in its status
  draining: 'UNLOADING',
  unloading: 'UNLOADING', // POST /v2/repository/models/{model}/unload
  unloaded: 'END', // TF Serving's state for a version it has unloaded too
}

export function modelVersionStatus(versions: Iterable<ServingVersion>) {
  return [...versions].map((v) => ({
    version: v.version,
    state: STATES[v.state],
    status: v.state === 'failed' ? { error_code: 'UNKNOWN', error_message: v.reason ?? '' } : { error_code: 'OK', error_message: '' },
  }))
}

/** TF's names for the protocol's datatypes (tensorflow/core/framework/types.proto). */
const TF_DTYPES: Readonly<Record<string, string>> = {
  BOOL: 'DT_BOOL', UINT8: 'DT_UINT8', UINT16: 'DT_UINT16', UINT32: 'DT_UINT32', UINT64: 'DT_UINT64',
  INT8: 'DT_INT8', INT16: 'DT_INT16', INT32: 'DT_INT32', INT64: 'DT_INT64',
  FP16: 'DT_HALF', FP32: 'DT_FLOAT', FP64: 'DT_DOUBLE', BYTES: 'DT_STRING',
}

function tensorInfo(spec: TensorSpec) {
  return {
    dtype: (spec.datatype !== null && TF_DTYPES[spec.datatype]) || 'DT_INVALID',
    tensor_shape: { dim: spec.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
    name: spec.name,
  }
}

export function modelMetadata(version: ServingVersion) {
  const byName = (specs: readonly TensorSpec[]) => Object.fromEntries(specs.map((s) => [s.name, tensorInfo(s)]))
  return {
    model_spec: { name: version.model, signature_name: '', version: version.version },
    metadata: {
      signature_def: {
        signature_def: {
          [TF_SIGNATURE]: { inputs: byName(version.inputs), outputs: byName(version.outputs), method_name: 'tensorflow/serving/predict' },
        },
      },
    },
  }
}
